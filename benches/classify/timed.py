#!/usr/bin/env python3
"""Times the tools of run.sh, interleaved, each run spawned directly.

usage: timed.py OUT_DIR FILE_LIST ROUNDS NAME:REPS:PROGRAM[,ARG...] ...

Each round runs every tool REPS times in the order given; every run gets
the files of FILE_LIST (one path a line, relative to the current
directory) as its last arguments and writes its standard output to
OUT_DIR/NAME.jsonl. Appended per run: the wall seconds to OUT_DIR/NAME.wall
and the CPU seconds (user + system of the child, from wait4) to
OUT_DIR/NAME.cpu.

Why not bash's `time`: bash forks itself for every command it runs, and on
a VM whose page faults cost microseconds that fork, copying bash's page
tables and faulting its pages back in, costs 1.2 ms even for `/bin/true`
(measured beside this on session 8's VM; `posix_spawn` of the same
`/bin/true` took 0.6 ms). A cost of the harness, not of either tool: it is
0.4% of Sisimai's run and 15% of mailtrail's, so it skewed the ratio. Here
every run is started the way `hyperfine -N` starts one, with
`posix_spawn` (a vfork: no page tables copied), so both tools pay the same
small start-up and nothing else. The timed span is the spawn, the whole
run of the command (its own process start, reading, classifying,
printing, exit) and the reaping of its exit status; no other process runs
inside it.
"""

import gc
import os
import sys
import time


def main() -> int:
    if len(sys.argv) < 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out_dir, file_list, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(file_list, encoding="utf-8") as f:
        files = [line.rstrip("\n") for line in f if line.strip()]
    tools = []
    for spec in sys.argv[4:]:
        name, reps, command = spec.split(":", 2)
        argv = command.split(",") + files
        tools.append((name, int(reps), argv))
    # No collection pauses inside a timed span.
    gc.disable()
    results = {name: [] for name, _, _ in tools}
    for _ in range(rounds):
        for name, reps, argv in tools:
            output = os.path.join(out_dir, name + ".jsonl")
            actions = [(os.POSIX_SPAWN_OPEN, 1, output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
            for _ in range(reps):
                t0 = time.perf_counter()
                pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
                _, status, usage = os.wait4(pid, 0)
                t1 = time.perf_counter()
                code = os.waitstatus_to_exitcode(status)
                if code != 0:
                    print(f"{name}: exit status {code}", file=sys.stderr)
                    return 1
                results[name].append((t1 - t0, usage.ru_utime + usage.ru_stime))
    for name, runs in results.items():
        with open(os.path.join(out_dir, name + ".wall"), "w", encoding="utf-8") as w, open(
            os.path.join(out_dir, name + ".cpu"), "w", encoding="utf-8"
        ) as c:
            for wall, cpu in runs:
                w.write(f"{wall:.6f}\n")
                c.write(f"{cpu:.6f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
