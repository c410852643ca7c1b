"""TensorFlow's stateless draws in NumPy (`dml_keras.data.stateless`), and the two crop paths they join."""

import numpy as np
import pytest

from dml_keras.data.stateless import philox, stateless_uniform, stateless_uniform_int
from tests.conftest import make_hr_lr, needs_tensorflow, shared_data

SEEDS = [(0, 0), (3, 5), (123456789, 1 << 40), (-7, 2 << 40), (2**62 + 11, 99), (5, -1)]


@pytest.mark.parametrize("counter, key, expected", [
    # Philox-4x32-10's known-answer vectors (Random123, kat_vectors)
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_gives_the_published_known_answers(counter, key, expected):
    words = philox(np.array(counter, np.uint64)[:, None], key)[:, 0]
    assert tuple(int(w) for w in words) == expected


def test_draws_are_tensorflows_known_values():
    # what TensorFlow 2.21 printed for tf.random.stateless_uniform([3], [0, 0], 0, 10, tf.int32),
    # stateless_uniform([4], [0, 0]) and stateless_normal([3], [0, 0]): checked here without TensorFlow
    from dml_keras.data.stateless import stateless_normal

    assert stateless_uniform_int((0, 0), 3, 0, 10).tolist() == [0, 9, 8]
    floats = stateless_uniform((0, 0), 4)
    assert floats.dtype == np.float32
    assert floats.tolist() == [0.2110154628753662, 0.7060099840164185, 0.8000633716583252, 0.7707922458648682]
    np.testing.assert_allclose(stateless_normal((0, 0), 3), [-1.6970340013504028, -0.4813767075538635,
                                                             -0.6622369289398193], rtol=0, atol=5e-7)


@needs_tensorflow
@pytest.mark.parametrize("seed", SEEDS)
def test_draws_equal_tensorflows_bit_for_bit(seed):
    import tensorflow as tf

    for count in (1, 2, 5, 17, 1001):
        for low, high in ((0, 4), (2, 37), (0, 2**31 - 1)):
            want = tf.random.stateless_uniform([count], tf.constant(seed, tf.int64), low, high, dtype=tf.int32)
            np.testing.assert_array_equal(stateless_uniform_int(seed, count, low, high), want.numpy())
        want = tf.random.stateless_uniform([count], tf.constant(seed, tf.int64))
        np.testing.assert_array_equal(stateless_uniform(seed, count), want.numpy())


@needs_tensorflow
@pytest.mark.parametrize("lr_size, channels, augment, seed", [
    ("same", "y", "dihedral", 0), ("native", "rgb", "flips", 7), ("native", "y", "none", 2**33 + 5)])
def test_the_pydataset_yields_the_tf_data_batches_for_the_same_seed(tmp_path, photos, lr_size, channels, augment, seed):
    from dml_keras.data.crops import paired_batches
    from dml_keras.data.pipeline import paired_dataset

    make_hr_lr(tmp_path, photos, native=lr_size == "native")
    args = dict(scale=4, patch_size=32, batch_size=3, lr_size=lr_size, channels=channels, seed=seed, augment=augment)
    stream = list(paired_dataset(tmp_path, **args).take(6))  # 18 crops: more than four passes over 4 photos
    batches = paired_batches(tmp_path, **args)
    for number, (hr, lr) in enumerate(stream):
        np.testing.assert_array_equal(batches[number][0], hr.numpy())
        np.testing.assert_array_equal(batches[number][1], lr.numpy())
    resumed = paired_batches(tmp_path, **args, start=4, order="lr")  # the stream's skip(4), input first
    np.testing.assert_array_equal(resumed[1][0], stream[5][1].numpy())


@needs_tensorflow
def test_real_pairs_give_the_same_crops_on_both_paths():
    from dml_keras.data import discover_pairs
    from dml_keras.data.crops import paired_batches
    from dml_keras.data.pipeline import paired_dataset

    pairs = discover_pairs(shared_data("realsr_x4"))[:12]
    args = dict(scale=4, patch_size=64, batch_size=8, seed=11, cache=True)
    for number, (hr, lr) in enumerate(paired_dataset(pairs, **args).take(3)):
        got_hr, got_lr = paired_batches(pairs, **args)[number]
        np.testing.assert_array_equal(got_hr, hr.numpy())
        np.testing.assert_array_equal(got_lr, lr.numpy())


@needs_tensorflow
@pytest.mark.parametrize("seed", SEEDS)
def test_normal_draws_equal_tensorflows_to_float_rounding(seed):
    import tensorflow as tf

    from dml_keras.data.stateless import stateless_normal

    want = tf.random.stateless_normal([20001], tf.constant(seed, tf.int64)).numpy()
    got = stateless_normal(seed, 20001)
    # measured: at most one float32 step (2.4e-7 near |x| = 2-4) in about 1.5 % of the values
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-7)
    assert np.mean(got == want) > 0.95


@needs_tensorflow
@pytest.mark.parametrize("sigma, capture_scale", [(5.0, 1), ((0.0, 10.0), 1), (3.0, 4)])
def test_numpy_sensor_noise_is_the_tf_data_paths(sigma, capture_scale):
    from dml_keras.data.synthesis import sensor_noise, sensor_noise_array

    for key, visit in ((123456789, 0), (2**62 + 3, 5)):
        want = sensor_noise((37, 45, 3), sigma, key, visit, capture_scale).numpy()
        got = sensor_noise_array((37, 45, 3), sigma, key, visit, capture_scale)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
