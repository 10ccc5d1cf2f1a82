#!/usr/bin/env python3
"""Sjd2Onnx model exporter (PyTorch -> ONNX model folders, see docs/model-format.md).

Run with Debian's system Python, which has torch and onnx:

    /usr/bin/python3 export_models.py tiny --out tests/models/tiny
    /usr/bin/python3 export_models.py tiny --out tests/models/tiny-eol --grid 3x3 --codebook 16 --end-of-line
    /usr/bin/python3 export_models.py tiny --out tests/models/micro --grid 2x2 --codebook 5 --no-sjd2
    /usr/bin/python3 export_models.py tiny --out tests/models/micro-sjd2 --grid 2x2 --codebook 5
    /usr/bin/python3 export_models.py tiny --out tests/models/micro-int4 --grid 2x2 --codebook 5 --no-sjd2 --weights int4
    /usr/bin/python3 export_models.py demo ...      (tools/pysjd2/demo.py, when present)
    /usr/bin/python3 export_models.py texture train --out DIR [--resume]   (entropy world, tools/pysjd2/texture_train.py)
    /usr/bin/python3 export_models.py texture export --from DIR --out DIR   (its model folder, tools/pysjd2/texture_export.py)

Real model families (docs/models.md):

    /usr/bin/python3 export_models.py janus-pro   --checkpoint DIR --out DIR [--fp16] [--tiny]
    /usr/bin/python3 export_models.py llamagen    --checkpoint GPT.pt --vq-checkpoint VQ.pt --t5 DIR --out DIR
    /usr/bin/python3 export_models.py lumina-mgpt --checkpoint DIR --vqgan DIR --out DIR
    /usr/bin/python3 export_models.py emu3        --checkpoint DIR --vq DIR --out DIR
    /usr/bin/python3 export_models.py finetune-sjd2 --model-dir DIR --out DIR [--steps N]
    /usr/bin/python3 export_models.py upgrade --model-dir DIR    (contract-1 transformer -> contract 2, in place)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "tools"))


def _parse_grid(text):
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"grid must look like 4x4, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _cli_has_parity():
    cli = os.path.join(ROOT, "src", "Sjd2Onnx.Cli")
    if shutil.which("dotnet") is None or not os.path.isdir(cli):
        return False
    for dirpath, _dirs, files in os.walk(cli):
        if os.sep + "obj" in dirpath or os.sep + "bin" in dirpath:
            continue
        for f in files:
            if f.endswith(".cs"):
                with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as fh:
                    if '"parity"' in fh.read():
                        return True
    return False


def run_parity(model_dir):
    """Replays parity.json through ONNX Runtime with the C# CLI; returns an exit code."""
    if not _cli_has_parity():
        print("note: ONNX-vs-PyTorch parity is checked by the C# side: "
              f"`dotnet run --project src/Sjd2Onnx.Cli -c Release -- parity --model {model_dir}` "
              "(the CLI or its parity command is not available here, so it was not run)")
        return 0
    cmd = ["dotnet", "run", "--project", os.path.join(ROOT, "src", "Sjd2Onnx.Cli"), "-c", "Release",
           "--", "parity", "--model", os.path.abspath(model_dir)]
    print("running: " + " ".join(cmd))
    rc = subprocess.call(cmd, cwd=ROOT)
    print("parity " + ("OK" if rc == 0 else f"FAILED (exit code {rc})"))
    return rc


class UsageError(Exception):
    """A bad argument: reported in one line, exit code 2."""


def _path_error(command, e):
    """A path that is missing, unreadable or unwritable: one line naming it, exit code 2."""
    where = f": {e.filename}" if e.filename else ""
    print(f"export_models.py {command}: error: {e.strerror or e}{where}; check the path", file=sys.stderr)
    return 2


def staged_export(args, export):
    """Runs ``export(args)``, which writes the folder ``args.out``, in a fresh folder of the same
    name next to it, and moves the files into ``--out`` only once the export has finished: an
    export that fails or is interrupted leaves nothing half-written there (its staging folder is
    removed). Files of ``--out`` that the export does not write are left alone. Returns the folder."""
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {args.out} exists and is not a folder; give the path of a folder to write")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    stage = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.partial-", dir=parent)
    try:
        args.out = os.path.join(stage, os.path.basename(out))   # same folder name: manifests default to it
        export(args)
        os.makedirs(out, exist_ok=True)
        for name in sorted(os.listdir(args.out)):
            os.replace(os.path.join(args.out, name), os.path.join(out, name))
    finally:
        args.out = out
        shutil.rmtree(stage, ignore_errors=True)
    print(f"wrote {out}")
    return out


def _export_tiny(args):
    from pysjd2.onnx_export import export_model_folder
    from pysjd2.tiny import build_tiny

    name = args.name or os.path.basename(os.path.normpath(args.out))
    model, vq, manifest, tok = build_tiny(
        grid=args.grid, codebook_size=args.codebook, end_of_line=args.end_of_line,
        sjd2=not args.no_sjd2, seed=args.seed, name=name, max_prompt_tokens=args.max_prompt_tokens)
    export_model_folder(args.out, model, vq, manifest, tok, parity_seed=args.seed, weights=args.weights,
                        block_size=args.block_size, accuracy_level=args.accuracy_level)


def cmd_tiny(args):
    out = staged_export(args, _export_tiny)
    return 0 if args.skip_parity else run_parity(out)


def cmd_family(args):
    from pysjd2.families import family_module
    out = staged_export(args, family_module(args.family).export)
    return 0 if args.skip_parity else run_parity(out)


def cmd_finetune(args):
    from pysjd2.families import finetune
    out = staged_export(args, finetune.run)
    return 0 if getattr(args, "skip_parity", False) else run_parity(out)


def cmd_upgrade(args):
    from pysjd2.families.export import upgrade_folder
    if not os.path.isfile(os.path.join(args.model_dir, "model.json")):
        print(f"error: {args.model_dir} has no model.json; give a model folder", file=sys.stderr)
        return 2
    if not upgrade_folder(args.model_dir):
        print(f"{args.model_dir}: the transformer already returns new rows only (contract 2); nothing to do")
        return 0
    print(f"{args.model_dir}: transformer and parity.json now follow contract 2 (new_key_values outputs)")
    return 0 if args.skip_parity else run_parity(args.model_dir)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        import importlib.util
        if importlib.util.find_spec("pysjd2.demo") is None:
            print("error: the demo subcommand needs tools/pysjd2/demo.py, which is not present",
                  file=sys.stderr)
            return 2
        import pysjd2.demo as demo
        try:
            return demo.main(argv[1:]) or 0
        except OSError as e:
            return _path_error("demo", e)

    if argv and argv[0] == "texture":
        import pysjd2.texture_train as texture_train
        try:
            return texture_train.main(argv[1:]) or 0
        except OSError as e:
            return _path_error("texture", e)

    parser = argparse.ArgumentParser(prog="export_models.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="train/export the default demo model (tools/pysjd2/demo.py)")
    sub.add_parser("texture", help="train / export the entropy-world model (tools/pysjd2/texture_train.py)")

    t = sub.add_parser("tiny", help="export a random-weight tiny test model")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--grid", type=_parse_grid, default=(4, 4), help="image grid HxW (default 4x4)")
    t.add_argument("--codebook", type=int, default=64, help="codebook size K (default 64)")
    t.add_argument("--end-of-line", action="store_true", help="forced [EOL] token after each row")
    t.add_argument("--no-sjd2", action="store_true", help="no noise_levels input / sjd2 section")
    t.add_argument("--seed", type=int, default=0, help="seed for weights and parity cases (default 0)")
    t.add_argument("--name", default=None, help="manifest name (default: the folder's name)")
    t.add_argument("--max-prompt-tokens", type=int, default=24, help="default 24")
    t.add_argument("--skip-parity", action="store_true", help="do not run `sjd2 parity` afterwards")
    from pysjd2.quantize import add_arguments as add_weight_arguments
    add_weight_arguments(t)
    t.set_defaults(func=cmd_tiny)

    from pysjd2.families import FAMILIES, family_module
    for fam in FAMILIES:
        fp = sub.add_parser(fam, help=f"export a {fam} checkpoint (or --tiny) to a model folder")
        if argv and argv[0] == fam:      # import (and describe) only the family asked for
            family_module(fam).add_arguments(fp)
        fp.set_defaults(func=cmd_family, family=fam)
    ft = sub.add_parser("finetune-sjd2", help="low-cost next-clean-token (SJD2) fine-tuning of a family model")
    if argv and argv[0] == "finetune-sjd2":
        from pysjd2.families import finetune as _ft
        _ft.add_arguments(ft)
    ft.set_defaults(func=cmd_finetune)
    up = sub.add_parser("upgrade", help="convert a model folder's contract-1 transformer to contract 2 in place")
    up.add_argument("--model-dir", required=True, help="model folder (holding model.json)")
    up.add_argument("--skip-parity", action="store_true", help="do not run `sjd2 parity` afterwards")
    up.set_defaults(func=cmd_upgrade)

    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command == "tiny" and args.codebook < 2:
        parser.error("--codebook must be at least 2")
    try:
        return args.func(args)
    except UsageError as e:
        print(f"export_models.py {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        return _path_error(args.command, e)


if __name__ == "__main__":
    sys.exit(main())
