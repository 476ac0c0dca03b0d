"""The Python peer of tandem's full-scan benchmark, with onvif-zeep-async.

Reads every camera's presets on both sites (asyncio, at most CONCURRENCY
calls in flight per site) and diffs them by name and position, as a script
written to check two sites would. Clients (discovery, media profiles) are set
up before the clock starts, so the timed part makes the same calls tandem
makes: one GetPresets per camera per site.

Usage: python scan.py ENDPOINTS.json CONCURRENCY
Prints one JSON object: setup_s, scan_s, presets, mismatches.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlparse

from onvif import ONVIFCamera


async def prepare(endpoint: dict, gate: asyncio.Semaphore):
    url = urlparse(endpoint["device_url"])
    async with gate:
        cam = ONVIFCamera(url.hostname, url.port, endpoint["username"], endpoint["password"],
                          adjust_time=True, no_cache=True)
        await cam.update_xaddrs()
        media = await cam.create_media_service()
        profiles = await media.GetProfiles() or []
        token = next(p.token for p in profiles if p.PTZConfiguration is not None)
        ptz = await cam.create_ptz_service()
    return endpoint, cam, ptz, token


async def read(ptz, token: str, gate: asyncio.Semaphore):
    async with gate:
        presets = await ptz.GetPresets({"ProfileToken": token}) or []
    out = {}
    for p in presets:
        pos = p.PTZPosition
        where = None
        if pos is not None and pos.PanTilt is not None and pos.Zoom is not None:
            where = (round(pos.PanTilt.x, 3), round(pos.PanTilt.y, 3), round(pos.Zoom.x, 3))
        out[p.Name] = where
    return out


async def main() -> None:
    endpoints = json.load(open(sys.argv[1]))
    concurrency = int(sys.argv[2])
    started = time.perf_counter()
    setup_gate = asyncio.Semaphore(concurrency)
    clients = await asyncio.gather(*(prepare(e, setup_gate) for e in endpoints))
    setup_s = time.perf_counter() - started

    gates = {site: asyncio.Semaphore(concurrency) for site in {e["site"] for e in endpoints}}
    started = time.perf_counter()
    tables = await asyncio.gather(*(read(ptz, token, gates[e["site"]]) for e, _, ptz, token in clients))
    by_camera: dict[int, dict[int, dict]] = {}
    for (endpoint, _, _, _), table in zip(clients, tables):
        by_camera.setdefault(endpoint["camera"], {})[endpoint["site"]] = table
    mismatches = 0
    for sites in by_camera.values():
        primary, secondary = sites.get(1, {}), sites.get(2, {})
        for name in set(primary) | set(secondary):
            if primary.get(name, "absent") != secondary.get(name, "absent"):
                mismatches += 1
    scan_s = time.perf_counter() - started
    for _, cam, _, _ in clients:
        await cam.close()
    print(json.dumps({"setup_s": setup_s, "scan_s": scan_s,
                      "presets": sum(len(t) for t in tables), "mismatches": mismatches}))


asyncio.run(main())
