// ckpt/export.h: which symbols libckpt exports.
//
// The library is built with hidden visibility; only declarations marked
// CKPT_EXPORT (the public API in this directory) are visible to programs
// that link it. Everything in lib/ stays internal and may change freely.
//
// Stability: stable.
#pragma once

#define CKPT_EXPORT [[gnu::visibility("default")]]
