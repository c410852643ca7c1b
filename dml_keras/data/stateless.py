"""TensorFlow's stateless random draws, in NumPy: the same numbers with or without TensorFlow.

The training crops are drawn with `tf.random.stateless_uniform` inside
`tf.data` (`pipeline.paired_dataset`). The same draws are needed where
TensorFlow is absent (`crops.paired_batches`, a `keras.utils.PyDataset` for
JAX), so that a seed gives the same crops on both paths. On the CPU,
TensorFlow draws them with Philox-4×32-10 (Salmon et al., SC 2011): the
64-bit seed pair is scrambled into a key and a counter by one Philox call
with a fixed key, and each further call gives four 32-bit words. An integer
in `[low, high)` is `low + word % (high - low)`; a float in `[0, 1)` takes
a word's low 23 bits as the mantissa of a number in `[1, 2)`, minus 1.

Tested bit for bit against TensorFlow and against Philox's published
known-answer vectors (tests/data/test_stateless.py).
"""

import numpy as np

_MULTIPLIERS = (np.uint64(0xD2511F53), np.uint64(0xCD9E8D57))
_KEY_STEPS = (0x9E3779B9, 0xBB67AE85)
_SEED_KEY = (0x3EC8F720, 0x02461E29)  # TensorFlow's fixed key for scrambling a seed
_LOW = np.uint64(0xFFFFFFFF)
_HALF = np.uint64(32)


def philox(counter, key, rounds=10):
    """Philox-4×32 on counters `(4, N)` (32-bit words held in uint64) with `key` (two ints): `(4, N)` words."""
    c0, c1, c2, c3 = (np.asarray(word, np.uint64) for word in counter)
    k0, k1 = int(key[0]), int(key[1])
    for _ in range(rounds):
        p0, p1 = _MULTIPLIERS[0] * c0, _MULTIPLIERS[1] * c2  # 32 × 32 → 64 bits, exact in uint64
        c0, c1, c2, c3 = (p1 >> _HALF) ^ c1 ^ np.uint64(k0), p1 & _LOW, (p0 >> _HALF) ^ c3 ^ np.uint64(k1), p0 & _LOW
        k0, k1 = (k0 + _KEY_STEPS[0]) & 0xFFFFFFFF, (k1 + _KEY_STEPS[1]) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3])


def _words(seed, count):
    """The first `count` 32-bit words TensorFlow's stateless ops draw from `seed` (two int64)."""
    s0, s1 = (int(s) & (2**64 - 1) for s in seed)
    start = np.array([[s0 & 0xFFFFFFFF], [s0 >> 32], [s1 & 0xFFFFFFFF], [s1 >> 32]], np.uint64)
    mixed = philox(start, _SEED_KEY)[:, 0]
    # the key is the first two words; the counter starts at (0, 0, third, fourth) and counts up from its low 64 bits
    calls = np.arange(-(-count // 4), dtype=np.uint64)
    counters = [calls & _LOW, calls >> _HALF, np.full_like(calls, mixed[2]), np.full_like(calls, mixed[3])]
    return philox(counters, mixed[:2]).T.reshape(-1)[:count]


def stateless_uniform_int(seed, count, low, high):
    """`tf.random.stateless_uniform([count], seed, low, high, dtype=tf.int32)`, bit for bit.

    Example:
    >>> stateless_uniform_int((0, 0), 3, 0, 10).tolist()
    [0, 9, 8]
    """
    span = np.uint64(int(high) - int(low))
    return (int(low) + (_words(seed, count) % span).astype(np.int64)).astype(np.int32)


def stateless_uniform(seed, count):
    """`tf.random.stateless_uniform([count], seed)` (float32 in `[0, 1)`), bit for bit."""
    mantissas = (_words(seed, count) & np.uint64(0x7FFFFF)) | np.uint64(0x3F800000)
    return mantissas.astype(np.uint32).view(np.float32) - np.float32(1.0)


def stateless_normal(seed, count):
    """`tf.random.stateless_normal([count], seed)` (float32), to float32 rounding.

    TensorFlow's Box-Muller: each pair of words `(a, b)` gives
    `sqrt(-2 log u) · (sin v, cos v)` with `u = max(float(a), 1e-7)` and
    `v = 2π · float(b)`, in float32 with the C library's `logf` and `sincosf`.
    Here the logarithm, sine and cosine are taken in float64 and rounded, so
    a value differs from TensorFlow's by at most a few float32 steps (tested).
    """
    words = _words(seed, count + count % 2).reshape(-1, 2)

    def unit(w):
        return ((w & np.uint64(0x7FFFFF)) | np.uint64(0x3F800000)).astype(np.uint32).view(np.float32) - np.float32(1.0)

    u = np.maximum(unit(words[:, 0]), np.float32(1e-7))
    v = (2.0 * np.pi * unit(words[:, 1]).astype(np.float64)).astype(np.float32)
    radius = np.sqrt(np.float32(-2.0) * np.log(u.astype(np.float64)).astype(np.float32))
    pairs = np.stack([np.sin(v.astype(np.float64)).astype(np.float32) * radius,
                      np.cos(v.astype(np.float64)).astype(np.float32) * radius], axis=-1)
    return pairs.reshape(-1)[:count]
