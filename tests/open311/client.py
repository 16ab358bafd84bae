#!/usr/bin/env python3
"""A GeoReport v2 client written to the specification, standard library only.

Usage: client.py BASE_URL API_KEY SERVICE_CODE
Creates one request with form encoding and one with multipart/form-data carrying a photo,
lists them back (requests.xml, parsed as XML) and prints a JSON summary on stdout.
Exits non-zero on any deviation from the specification it can see.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

# a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def post_form(url, fields):
    body = urllib.parse.urlencode(fields).encode("utf-8")
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status, res.read()


def post_multipart(url, fields, filename, content, content_type):
    boundary = "----open311" + uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode(
                "utf-8"
            )
        )
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode("utf-8")
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode("utf-8"))
    req = urllib.request.Request(
        url,
        data=b"".join(parts),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status, res.read()


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main():
    base, api_key, service_code = sys.argv[1], sys.argv[2], sys.argv[3]
    api = base.rstrip("/") + "/open311/v2"
    common = [
        ("api_key", api_key),
        ("service_code", service_code),
        ("jurisdiction_id", ""),
        ("address_string", "幸福小区东门"),
    ]
    status, body = post_form(
        api + "/requests.json", common + [("description", "东门路灯不亮（表单）")]
    )
    created = json.loads(body)
    if not isinstance(created, list) or len(created) != 1:
        fail(f"POST requests.json: expected a list of one, got {body!r}")
    first = created[0]["service_request_id"]

    status, body = post_multipart(
        api + "/requests.xml",
        common + [("description", "东门路灯不亮（照片）")],
        "lamp.png",
        PNG,
        "image/png",
    )
    root = ET.fromstring(body)
    if root.tag != "service_requests" or root[0].tag != "request":
        fail(f"POST requests.xml: expected <service_requests><request>, got {body!r}")
    second = root[0].findtext("service_request_id")

    query = urllib.parse.urlencode(
        {"service_request_id": f"{first},{second}", "api_key": "ignored-on-get"}
    )
    with urllib.request.urlopen(f"{api}/requests.xml?{query}", timeout=10) as res:
        listed = ET.fromstring(res.read())
    requests = {r.findtext("service_request_id"): r for r in listed.findall("request")}
    if set(requests) != {first, second}:
        fail(f"GET requests.xml: expected {first} and {second}, got {sorted(requests)}")
    media = requests[second].findtext("media_url") or ""
    if not media:
        fail("the multipart request has no media_url")
    with urllib.request.urlopen(media, timeout=10) as res:
        if res.read() != PNG:
            fail("media_url does not serve the photo sent")
    print(
        json.dumps(
            {
                "form": first,
                "multipart": second,
                "statuses": [requests[k].findtext("status") for k in (first, second)],
                "media_url": media,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except urllib.error.HTTPError as e:
        fail(f"HTTP {e.code}: {e.read()!r}")
