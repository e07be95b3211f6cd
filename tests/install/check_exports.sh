#!/usr/bin/env bash
# Checks that libckpt.so exports the public API and nothing else: every
# dynamic symbol it defines is in namespace ckpt (not ckpt::internal), and
# the entry points a program needs are there.
set -euo pipefail
lib=$1
symbols=$(nm -D --defined-only "$lib" | awk '{print $3}' | c++filt)
bad=$(grep -v -E '^((typeinfo|typeinfo name|vtable) for )?ckpt::' <<<"$symbols" || true)
internal=$(grep -E '^((typeinfo|typeinfo name|vtable) for )?ckpt::internal::' <<<"$symbols" || true)
if [[ -n "$bad$internal" ]]; then
  echo "libckpt.so exports symbols outside the public API:"
  printf '%s\n' "$bad" "$internal" | sed '/^$/d'
  exit 1
fi
for needed in 'ckpt::Store::Open(' 'ckpt::Store::Repair(' 'ckpt::Status::ToString' \
              'ckpt::NewLocalBackend(' 'ckpt::ImportSafetensors(' 'ckpt::ExportSafetensors(' \
              'ckpt::DiffValues('; do
  if ! grep -qF "$needed" <<<"$symbols"; then
    echo "libckpt.so does not export $needed"
    exit 1
  fi
done
echo "libckpt.so exports $(wc -l <<<"$symbols") symbols, all public API"
