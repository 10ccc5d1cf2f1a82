"""export_models.py on bad input and failed exports.

    /usr/bin/python3 -m unittest discover -s tests/python -v

* A bad --out or a missing input path is one line on stderr and exit code 2, no traceback.
* An export that fails half-way leaves nothing in --out (it is staged next to it and moved in
  only once finished), and files already in --out that the export does not write are kept.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

import export_models  # noqa: E402


def run(args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "export_models.py")] + args, cwd=ROOT,
                          capture_output=True, text=True)


class BadInput(unittest.TestCase):
    def assert_one_line_error(self, r, *fragments):
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        for f in fragments:
            self.assertIn(f, lines[0])

    def test_out_that_is_a_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            with open(path, "w") as f:
                f.write("keep me")
            r = run(["tiny", "--out", path, "--skip-parity"])
            self.assert_one_line_error(r, "--out", "is not a folder")
            with open(path) as f:
                self.assertEqual(f.read(), "keep me")

    def test_missing_checkpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            missing = os.path.join(tmp, "nowhere")
            out = os.path.join(tmp, "out")
            r = run(["llamagen", "--checkpoint", missing, "--vq-checkpoint", missing, "--t5", missing, "--out", out,
                     "--skip-parity"])
            self.assert_one_line_error(r, "No such file or directory", "nowhere")
            self.assertFalse(os.path.exists(out))
            self.assertEqual([n for n in os.listdir(tmp) if "partial" in n], [])

    def test_missing_model_dir_for_finetuning(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = run(["finetune-sjd2", "--model-dir", os.path.join(tmp, "none"), "--out", os.path.join(tmp, "out")])
            self.assert_one_line_error(r, "family.json")


class StagedExport(unittest.TestCase):
    @staticmethod
    def folder_with_notes(tmp):
        """--out as a folder that already holds a file no export writes."""
        out = os.path.join(tmp, "model")
        os.makedirs(out)
        with open(os.path.join(out, "notes.txt"), "w") as f:
            f.write("mine")
        return out

    def test_a_failed_export_leaves_nothing_half_written(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = self.folder_with_notes(tmp)

            def half_then_fail(args):
                os.makedirs(args.out)
                with open(os.path.join(args.out, "model.json"), "w") as f:
                    f.write("{}")
                raise RuntimeError("the export broke")

            with self.assertRaises(RuntimeError):
                export_models.staged_export(argparse.Namespace(out=out), half_then_fail)
            self.assertEqual(sorted(os.listdir(out)), ["notes.txt"])
            self.assertEqual(sorted(os.listdir(tmp)), ["model"])

    def test_a_finished_export_lands_under_its_own_name(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = self.folder_with_notes(tmp)
            seen = []

            def export(args):
                seen.append(os.path.basename(args.out))
                os.makedirs(args.out)
                with open(os.path.join(args.out, "model.json"), "w") as f:
                    f.write("{}")

            args = argparse.Namespace(out=out)
            self.assertEqual(export_models.staged_export(args, export), out)
            self.assertEqual(seen, ["model"])           # manifests default to the folder's name
            self.assertEqual(args.out, out)
            self.assertEqual(sorted(os.listdir(out)), ["model.json", "notes.txt"])
            self.assertEqual(sorted(os.listdir(tmp)), ["model"])


if __name__ == "__main__":
    unittest.main()
