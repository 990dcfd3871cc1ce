"""The Python module `tessera` against `tessera segment` on the same phantom.

    python3 python_test.py REFERENCE_DIR

REFERENCE_DIR holds ct.nii.gz and the command line's cli_sparse.nii and
cli_dense.nii (tests/sdk/make_reference.sh) and the phantom case folder they
came from. The module comes from PYTHONPATH, the bundled model from
TESSERA_MODEL_DIR, the command line (for training side by side) from
TESSERA_CLI.
"""
import filecmp
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import tessera

REFERENCE = sys.argv.pop(1) if len(sys.argv) > 1 else None


def reference(name):
    return os.path.join(REFERENCE, name)


class SegmentLikeTheCommandLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = tessera.load_model()
        cls.ct = tessera.read_volume(reference("ct.nii.gz"))

    def segment(self, array=None, **options):
        ct = self.ct
        return self.model.segment(ct.array if array is None else array, spacing=ct.spacing,
                                  origin=ct.origin, direction=ct.direction, **options)

    def test_sparse_and_dense_labels_are_the_command_lines_bit_for_bit(self):
        for mode in ("sparse", "dense"):
            expected = tessera.read_volume(reference("cli_%s.nii" % mode)).array
            got = self.segment(mode=mode).labels
            self.assertEqual(got.dtype, np.uint8)
            self.assertEqual(got.shape, self.ct.array.shape)
            self.assertTrue(np.array_equal(got, expected), mode)

    def test_float32_input_gives_the_same_labels(self):
        as_int = self.segment().labels
        as_float = self.segment(self.ct.array.astype(np.float32)).labels
        self.assertTrue(np.array_equal(as_int, as_float))

    def test_statistics(self):
        result = self.segment()
        stats = result.stats
        self.assertEqual(stats["slices"], self.ct.array.shape[0])
        self.assertGreater(stats["active_fraction"], 0.0)
        self.assertLess(stats["active_fraction"], 1.0)
        self.assertLess(stats["flops"], stats["dense_flops"])
        labels = result.labels
        voxel_ml = np.prod(self.ct.spacing) / 1000.0
        per_label = result.label_stats
        self.assertGreater(len(per_label), 0)
        for entry in per_label:
            self.assertEqual(entry["voxels"], int(np.count_nonzero(labels == entry["value"])))
            self.assertAlmostEqual(entry["volume_ml"], entry["voxels"] * voxel_ml, places=6)
            mean = float(self.ct.array[labels == entry["value"]].mean())
            self.assertAlmostEqual(entry["mean_hu"], mean, places=3)
        dense = self.segment(mode="dense").stats
        self.assertEqual(dense["active_fraction"], 1.0)

    def test_labels_are_a_read_only_view_that_outlives_the_result(self):
        labels = self.segment().labels
        self.assertFalse(labels.flags.writeable)
        self.assertIsNotNone(labels.base)
        with self.assertRaises(ValueError):
            labels[0, 0, 0] = 1
        expected = tessera.read_volume(reference("cli_sparse.nii")).array
        self.assertTrue(np.array_equal(labels, expected))

    def test_progress_rises_to_one_and_false_cancels(self):
        seen = []
        self.segment(progress=lambda fraction, eta, message: seen.append((fraction, message)))
        fractions = [f for f, _ in seen]
        self.assertGreaterEqual(len(seen), 2)
        self.assertEqual(fractions, sorted(fractions))
        self.assertEqual(fractions[-1], 1.0)
        self.assertTrue(all(isinstance(m, str) and m for _, m in seen))
        with self.assertRaises(tessera.Error) as caught:
            self.segment(progress=lambda fraction, eta, message: False)
        self.assertEqual(caught.exception.status, "cancelled")

    def test_an_exception_in_the_callback_reaches_the_caller(self):
        def fail(fraction, eta, message):
            raise KeyError("from the callback")

        with self.assertRaises(KeyError):
            self.segment(progress=fail)

    def test_malformed_arrays_are_refused_with_a_reason(self):
        array = self.ct.array
        with self.assertRaisesRegex(ValueError, "3D array"):
            self.model.segment(array[0])
        with self.assertRaisesRegex(ValueError, "3D array"):
            self.model.segment(array[np.newaxis])
        with self.assertRaisesRegex(ValueError, "C-contiguous"):
            self.model.segment(array[:, ::2, :])
        with self.assertRaisesRegex(ValueError, "C-contiguous"):
            self.model.segment(array.transpose(2, 1, 0))
        with self.assertRaisesRegex(TypeError, "int16 or float32"):
            self.model.segment(array.astype(np.float64))
        with self.assertRaisesRegex(ValueError, "sparse"):
            self.model.segment(array, mode="fast")
        with self.assertRaises(TypeError):
            self.model.segment(array, spacing=(1.0, 1.0))
        floats = array.astype(np.float32)
        floats[1, 2, 3] = np.nan
        with self.assertRaises(tessera.Error) as caught:
            self.model.segment(floats)
        self.assertEqual(caught.exception.status, "invalid argument")
        with self.assertRaises(tessera.Error) as caught:
            self.model.segment(array, spacing=(1.0, -1.0, 1.0))
        self.assertIn("spacing", str(caught.exception))

    def test_reading_and_writing_volumes(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "ct.nrrd")
            tessera.write_volume(self.ct.array, path, spacing=self.ct.spacing,
                                 origin=self.ct.origin, direction=self.ct.direction)
            back = tessera.read_volume(path)
            self.assertTrue(np.array_equal(back.array, self.ct.array))
            np.testing.assert_allclose(back.spacing, self.ct.spacing, rtol=1e-6)
            np.testing.assert_allclose(back.origin, self.ct.origin, atol=1e-4)
            result = self.segment()
            labels_path = os.path.join(scratch, "labels.nii")
            result.write(labels_path)
            self.assertTrue(np.array_equal(tessera.read_volume(labels_path).array, result.labels))
            missing = os.path.join(scratch, "missing", "labels.nii")
            with self.assertRaises(tessera.Error):
                result.write(missing)
            self.assertFalse(os.path.exists(missing))
            self.assertEqual(sorted(os.listdir(scratch)), ["ct.nrrd", "labels.nii"])

    def test_missing_files_name_themselves(self):
        with self.assertRaises(tessera.Error) as caught:
            tessera.load_model("/nonexistent/model.onnx")
        self.assertEqual(caught.exception.status, "not found")
        self.assertIn("/nonexistent/model.onnx", str(caught.exception))
        with self.assertRaises(tessera.Error):
            tessera.read_volume("/nonexistent/ct.nii.gz")

    def test_plugin_stages_give_the_command_lines_labels_and_report(self):
        plugins = os.environ["TESSERA_PLUGIN_DIR"]
        with tempfile.TemporaryDirectory() as scratch:
            out = os.path.join(scratch, "labels.nii")
            subprocess.run([os.environ["TESSERA_CLI"], "segment", "-i", reference("ct.nii.gz"),
                            "-o", out, "--plugins", plugins, "--stages", "largest_component"],
                           check=True, capture_output=True)
            result = self.segment(stages="largest_component", plugins=plugins)
            self.assertTrue(np.array_equal(result.labels, tessera.read_volume(out).array))
        plain = self.segment().labels
        removed = result.stage_report["largest_component.removed_voxels"]
        self.assertEqual(np.count_nonzero(plain) - np.count_nonzero(result.labels), removed)
        self.assertEqual(self.segment().stage_report, {})
        with self.assertRaises(tessera.Error) as caught:
            self.segment(stages="crop_body", plugins=plugins)
        self.assertIn("loaded: largest_component", str(caught.exception))
        with self.assertRaises(tessera.Error) as caught:
            self.segment(stages="largest_component", plugins="relative/dir")
        self.assertIn("absolute", str(caught.exception))

    def test_model_description(self):
        self.assertEqual(len(self.model.labels), 10)
        self.assertEqual(self.model.labels[0][:2], (0, "background"))
        self.assertTrue(self.model.path.endswith("tessera-default.onnx"))
        self.assertEqual(tessera.__version__.count("."), 2)


# A training run small enough for a test: the same options for every run.
TINY = dict(steps=3, batch=1, crop=64, base_width=16, levels=2, heads=0, pool=1,
            validate_every=3, checkpoint_every=1, threads=1, seed=5)


def cli_arguments(options):
    arguments = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            arguments.append(flag)
        elif value is not False:
            arguments += [flag, str(value)]
    return arguments


class TrainLikeTheCommandLine(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)

    def path(self, *parts):
        return os.path.join(self.scratch.name, *parts)

    def test_train_writes_the_model_tessera_train_writes(self):
        seen = []
        report = tessera.train(out=self.path("py"), progress=lambda f, e, m: seen.append(f), **TINY)
        self.assertEqual(report["steps"], 3)
        self.assertEqual(report["model_path"], self.path("py", "model.onnx"))
        self.assertEqual(seen[-1], 1.0)
        subprocess.run([os.environ["TESSERA_CLI"], "train", "--out", self.path("cli")] +
                       cli_arguments(TINY), check=True, capture_output=True)
        self.assertTrue(filecmp.cmp(self.path("py", "model.onnx"), self.path("cli", "model.onnx"),
                                    shallow=False))
        model = tessera.load_model(report["model_path"])
        ct = tessera.read_volume(reference("ct.nii.gz"))
        labels = model.segment(ct.array, spacing=ct.spacing).labels
        self.assertEqual(labels.shape, ct.array.shape)

    def test_plugin_layers_train_like_the_command_line(self):
        plugins = os.path.join(os.environ["TESSERA_PLUGIN_DIR"], "group_norm")
        options = dict(TINY, layers="group_norm@stages", plugins=plugins)
        report = tessera.train(out=self.path("py"), **options)
        subprocess.run([os.environ["TESSERA_CLI"], "train", "--out", self.path("cli")] +
                       cli_arguments(options), check=True, capture_output=True)
        self.assertTrue(filecmp.cmp(report["model_path"], self.path("cli", "model.onnx"),
                                    shallow=False))
        # The layers stay loaded in this process: the model reads and runs.
        model = tessera.load_model(report["model_path"])
        ct = tessera.read_volume(reference("ct.nii.gz"))
        self.assertEqual(model.segment(ct.array, spacing=ct.spacing).labels.shape, ct.array.shape)
        with self.assertRaises(tessera.Error) as caught:
            tessera.train(out=self.path("bad"), **dict(TINY, layers="group_norm@everywhere"))
        self.assertIn("NAME@stages or NAME@bottleneck", str(caught.exception))

    def test_a_cancelled_run_resumes_to_the_uninterrupted_model(self):
        tessera.train(out=self.path("whole"), **TINY)
        with self.assertRaises(tessera.Error) as caught:
            tessera.train(out=self.path("parts"), progress=lambda f, e, m: f < 0.3, **TINY)
        self.assertEqual(caught.exception.status, "cancelled")
        self.assertTrue(os.path.exists(self.path("parts", "checkpoint.onnx")))
        self.assertFalse(os.path.exists(self.path("parts", "model.onnx")))
        report = tessera.train(out=self.path("parts"), resume=True, **TINY)
        self.assertEqual(report["steps"], 2)  # cancelled after step 1 of 3
        self.assertTrue(filecmp.cmp(self.path("whole", "model.onnx"),
                                    self.path("parts", "model.onnx"), shallow=False))

    def test_fine_tune_starts_from_a_model_on_case_folders(self):
        start = tessera.train(out=self.path("start"), **TINY)["model_path"]
        report = tessera.fine_tune(start, reference("phantom"), self.path("tuned"),
                                   steps=1, batch=1, crop=64, pool=1, validate_every=1, threads=1)
        self.assertEqual(report["steps"], 1)
        tuned = tessera.load_model(report["model_path"])
        self.assertEqual(len(tuned.labels), 10)

    def test_bad_options_are_refused_before_anything_is_written(self):
        with self.assertRaises(tessera.Error) as caught:
            tessera.train(out=self.path("bad"), stepz=3)
        self.assertEqual(caught.exception.status, "invalid argument")
        self.assertIn("known:", str(caught.exception))
        for options in (dict(steps=0), dict(context=2), dict(lr="fast"),
                        dict(checkpointing="sometimes"), dict(no_augment="maybe")):
            with self.assertRaises(tessera.Error, msg=str(options)) as caught:
                tessera.train(out=self.path("bad"), **options)
            self.assertEqual(caught.exception.status, "invalid argument")
        with self.assertRaises(tessera.Error):
            tessera.train(steps=3)
        self.assertFalse(os.path.exists(self.path("bad")))
        with self.assertRaises(tessera.Error) as caught:
            tessera.fine_tune(self.path("missing.onnx"), reference("phantom"), self.path("ft"))


if __name__ == "__main__":
    if REFERENCE is None:
        sys.exit("usage: python_test.py REFERENCE_DIR")
    unittest.main(verbosity=2)
