#!/usr/bin/env python3
"""A user's round through a server started by `hotline serve --demo`: the demo accounts'
passwords read from what it printed, an intake with a phone number (its time), dispatch by
routing, search 停水 as the water company, GET (the citizen masked), sign, an empty query (422),
then N more intakes one after another (p50 / p99 / slowest). Afterwards `ls -l data/` shows
the SQLite WAL's size (docs/benchmarks.md, "The tenth round").
usage: demo_drive.py PORT SERVE_OUTPUT_FILE [N]"""
import http.client
import json
import re
import sys
import time
import urllib.parse
port=int(sys.argv[1]); log=open(sys.argv[2]).read(); n=int(sys.argv[3]) if len(sys.argv)>3 else 0
pw={m.group(1):m.group(2) for m in re.finditer(r"^\s*(\w+)\s+\S+\s+\S+\s+password: (\S+)", log, re.M)}
c=http.client.HTTPConnection("127.0.0.1",port)
def call(method, path, tok=None, body=None, hdr=None):
    h={"Content-Type":"application/json"}
    if tok: h["Authorization"]="Bearer "+tok
    if hdr: h.update(hdr)
    t=time.perf_counter(); c.request(method, path, json.dumps(body) if body is not None else None, h); r=c.getresponse(); data=r.read()
    ms=(time.perf_counter()-t)*1000
    try: data=json.loads(data)
    except Exception: pass
    return r.status, data, ms
def login(u): return call("POST","/api/v1/auth/login",body={"username":u,"password":pw[u]})[1]["access_token"]
op,dp,ws,su=login("operator"),login("dispatcher"),login("water_staff"),login("supervisor")
cats=call("GET","/api/v1/categories",op)[1]["items"]
water=[x for x in cats if x["code"]=="water"][0]
s,t,ms=call("POST","/api/v1/tickets",op,{"category_id":water["id"],"kind":"help","title":"小区停水三天了","description":"幸福小区3号楼停水三天","citizen":{"name":"张三","phone":"138 1234 5678"}})
print("first intake as operator:", s, t.get("status"), t.get("number"), "%.1f ms"%ms)
tid=t["id"]
s,d,ms=call("POST","/api/v1/tickets/%s/dispatch"%tid,dp,{})
print("dispatch as dispatcher (routing):", s, d.get("status"), d.get("lead_department_name"))
s,r,ms=call("GET","/api/v1/tickets/search?q="+urllib.parse.quote("停水"),ws)
hits = r if isinstance(r, list) else r.get("items", [])
print("search 停水 as water_staff:", s, [(h["ticket"]["number"], h.get("title_highlight")) for h in hits])
s,g,ms=call("GET","/api/v1/tickets/"+tid,ws)
print("GET as water_staff:", s, g["status"], g["citizen"]["phone"])
s,g2,ms=call("POST","/api/v1/tickets/%s/sign"%tid,ws,{})
print("sign as water_staff:", s, g2.get("status"))
s,e,ms=call("GET","/api/v1/tickets/search?q=",ws)
print("empty q:", s, e)
if n:
    lat=[]
    for i in range(n):
        s,t,ms=call("POST","/api/v1/tickets",op,{"category_id":water["id"],"kind":"help","title":"路灯不亮%d"%i,"description":"路灯坏了","citizen":{"phone":"13912345678"}})
        assert s==201, (s,t)
        lat.append(ms)
    lat.sort(); print("%d more intakes: p50 %.2f p99 %.2f max %.1f ms"%(n, lat[n//2], lat[n*99//100], lat[-1]))
