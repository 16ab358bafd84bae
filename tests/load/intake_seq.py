#!/usr/bin/env python3
"""Takes in N calls one after another (c=1) and prints each one slower than 5 ms with its
place in the sequence, then p50 / p90 / p99: a stall that recurs every k writes shows as
places k apart. The first call after start is the first of the list.
usage: intake_seq.py PORT TOKEN PAIRS_FILE N   (PAIRS_FILE: "category region" a line)"""
import http.client
import json
import sys
import time

port, token, pairs_file, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
pairs = [line.split() for line in open(pairs_file) if line.strip()]
if not pairs:
    sys.exit("no (category, region) pairs in " + pairs_file)
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
took = []
for i in range(n):
    category, region = pairs[i % len(pairs)]
    body = json.dumps({
        "category_id": category, "region_id": region, "kind": "help",
        "title": "小区停水第%d天" % i,
        "description": "幸福小区3号楼从周一起停水，至今没有恢复，请尽快处理。",
        "citizen": {"name": "张三", "phone": "13812345678"},
    })
    start = time.perf_counter()
    conn.request("POST", "/api/v1/tickets", body, headers)
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        sys.exit("call %d answered %d" % (i, response.status))
    took.append((time.perf_counter() - start) * 1000)
slow = [(i, round(ms, 1)) for i, ms in enumerate(took) if ms > 5]
print("calls", n, "slower than 5 ms:", len(slow))
print(slow[:40])
ordered = sorted(took)
print("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms" % (ordered[n // 2], ordered[n * 9 // 10], ordered[n * 99 // 100]))
