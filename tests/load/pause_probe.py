#!/usr/bin/env python3
"""Whether the machine itself pauses: sleeps 1 ms at a time for SECONDS and prints every gap
over 30 ms between two wake-ups (run it under `chrt -f 50` beside a load, so that the
scheduler's share of the cores is not what it measures; docs/benchmarks.md, "The eleventh
round").
usage: pause_probe.py SECONDS"""
import sys
import time

if len(sys.argv) != 2:
    sys.exit(__doc__)
seconds = float(sys.argv[1])
start = last = time.monotonic()
gaps = []
while last - start < seconds:
    time.sleep(0.001)
    now = time.monotonic()
    if now - last > 0.03:
        gaps.append((round(now - start, 2), round((now - last) * 1000, 1)))
    last = now
print("gaps over 30 ms (at s, ms):", gaps)
