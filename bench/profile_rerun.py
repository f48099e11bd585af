"""Where a rerun's time goes: the masked-word page answering new sentences, profiled with cProfile.

    python bench/profile_rerun.py [--reruns 10] [--top 12]

Runs the page in-process through Streamlit's AppTest (the same script a browser session runs),
warms it once, then types `--reruns` new sentences; prints the CPU seconds per rerun, how many
encoder forward passes ran, and the functions with the most cumulative time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/masked.py")
    at.run()
    from pages._common import cached_model

    forwards = [0]
    handle = cached_model("embedded").encoder.register_forward_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
    profile = cProfile.Profile()
    from streamlit.runtime.scriptrunner import script_runner

    run_script = script_runner.ScriptRunner._run_script

    def profiled(self, *a, **k):  # the script runs on its own thread: profile it there
        profile.enable()
        try:
            return run_script(self, *a, **k)
        finally:
            profile.disable()

    script_runner.ScriptRunner._run_script = profiled
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(args.reruns):
        at.text_input(key="mlm_text").set_value(f"The {i + 2} children went to the [MASK] after school.").run()
    script_runner.ScriptRunner._run_script = run_script
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    handle.remove()
    assert not at.exception, [e.value for e in at.exception]
    print(f"{args.reruns} reruns: {cpu / args.reruns:.3f} s CPU and {wall / args.reruns:.3f} s wall per rerun, "
          f"{forwards[0] / args.reruns:.1f} encoder forward passes per rerun")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(args.top)
    print("\n".join(line.replace(str(ROOT) + "/", "").replace(sys.prefix + "/lib/python3.11/site-packages/", "")
                    for line in out.getvalue().splitlines() if line.strip())[:8000])


if __name__ == "__main__":
    main()
