"""The Python peer of tandem's full-scan benchmark, with onvif-zeep-async.

Reads every camera's presets on both sites (asyncio, at most CONCURRENCY
calls in flight per site) and diffs them by name and position, as a script
written to check two sites would. It is written to be quick: per site, one
camera is set up with the library (clock offset, discovery, media profile,
PTZ service); every other camera of the site gets a service proxy on the same
zeep client and connection pool (same credentials and profile token), so the
set-up is cheap. Set-up happens before the clock starts; the timed part makes
the same calls tandem makes: one GetPresets per camera per site.

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


async def site_client(endpoint: dict):
    """The library's full set-up, for one camera of a site."""
    url = urlparse(endpoint["device_url"])
    cam = ONVIFCamera(url.hostname, url.port, endpoint["username"], endpoint["password"],
                      adjust_time=True, no_cache=True)
    await cam.update_xaddrs()
    media = await cam.create_media_service()
    profiles = await media.GetProfiles() or []
    token = next(p.token for p in profiles if p.PTZConfiguration is not None)
    ptz = await cam.create_ptz_service()
    return cam, ptz, token


def ptz_address(template: str, endpoint: dict) -> str:
    """The PTZ service address of `endpoint`, shaped like the set-up camera's."""
    device = urlparse(endpoint["device_url"])
    return urlparse(template)._replace(netloc=device.netloc).geturl()


async def read(proxy, token: str, gate: asyncio.Semaphore):
    async with gate:
        presets = await proxy.GetPresets(ProfileToken=token) or []
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
    sites = sorted({e["site"] for e in endpoints})
    clients = {}
    for site in sites:
        first = next(e for e in endpoints if e["site"] == site)
        clients[site] = await site_client(first)
    proxies = []
    for e in endpoints:
        _, ptz, token = clients[e["site"]]
        proxy = ptz.zeep_client.create_service(ptz.binding_name, ptz_address(ptz.xaddr, e))
        proxies.append((e, proxy, token))
    setup_s = time.perf_counter() - started

    gates = {site: asyncio.Semaphore(concurrency) for site in sites}
    started = time.perf_counter()
    tables = await asyncio.gather(*(read(proxy, token, gates[e["site"]]) for e, proxy, token in proxies))
    by_camera: dict[int, dict[int, dict]] = {}
    for (endpoint, _, _), table in zip(proxies, tables):
        by_camera.setdefault(endpoint["camera"], {})[endpoint["site"]] = table
    mismatches = 0
    for per_site in by_camera.values():
        primary, secondary = per_site.get(1, {}), per_site.get(2, {})
        for name in set(primary) | set(secondary):
            if primary.get(name, "absent") != secondary.get(name, "absent"):
                mismatches += 1
    scan_s = time.perf_counter() - started
    for cam, _, _ in clients.values():
        await cam.close()
    print(json.dumps({"setup_s": setup_s, "scan_s": scan_s,
                      "presets": sum(len(t) for t in tables), "mismatches": mismatches}))


asyncio.run(main())
