"""Interoperability test: drive `tandem sim` with a third-party ONVIF client.

Uses `onvif-zeep-async` (zeep + the official ONVIF WSDLs), a client nobody on
the team wrote, to prove that the simulated camera:
* answers discovery (GetSystemDateAndTime, GetServices, GetCapabilities) with
  followable XAddrs and accepts WS-Security UsernameToken PasswordDigest even
  when its clock is skewed (the client's adjust_time compensates);
* serves Media GetProfiles with a PTZ profile, PTZ GetNodes, and the preset
  lifecycle (non-ASCII name, overwrite by token, goto, remove);
* reports AbsoluteMove / ContinuousMove / Stop through GetStatus (MoveStatus,
  Position in generic spaces) and faults unknown tokens with ter:NoToken.

Usage:
    python interop.py --host 127.0.0.1 --port PORT --user USER --password PASS \
        [--wsdl-dir DIR]

Prints `ok  <step>` or `FAIL <step>: reason` per step; exit code 0 iff all pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

import onvif
from onvif import ONVIFCamera, ONVIFError
from onvif.util import extract_subcodes_as_strings, stringify_onvif_error
from zeep.exceptions import Fault

PTZ_NS = "http://www.onvif.org/ver20/ptz/wsdl"
PT_POS = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
Z_POS = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"
PT_VEL = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace"
PRESET_NAME = "Porte Nord é"
TARGET = (0.3, -0.2, 0.4)
ELSEWHERE = (-0.5, 0.1, 0.1)
TOL = 0.02
STEP_TIMEOUT = 40.0  # hard cap per step so a hung request cannot stall the run


class StepFailed(Exception):
    """An assertion of the interop sequence did not hold."""


def check(cond: bool, reason: str) -> None:
    if not cond:
        raise StepFailed(reason)


def position(obj, field: str = "Position") -> tuple[float, float, float]:
    """(pan, tilt, zoom) of a PTZStatus (Position) or PTZPreset (PTZPosition)."""
    p = getattr(obj, field, None)
    check(p is not None and p.PanTilt is not None and p.Zoom is not None,
          f"no full {field} in {obj}")
    return (p.PanTilt.x, p.PanTilt.y, p.Zoom.x)


def close_to(actual, expected, what: str) -> None:
    ok = all(abs(a - e) <= TOL for a, e in zip(actual, expected))
    check(ok, f"{what} {tuple(round(v, 4) for v in actual)} not within {TOL} of {expected}")


def move_state(status) -> tuple[str | None, str | None]:
    ms = getattr(status, "MoveStatus", None)
    return (None, None) if ms is None else (ms.PanTilt, ms.Zoom)


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.cam, self.ptz = args, None, None
        self.profile: str | None = None  # PTZ-capable media profile token
        self.preset: str | None = None  # our preset token while it exists
        self.count_before: int | None = None

    def need(self, attr: str):
        value = getattr(self, attr)
        check(value is not None, f"skipped: prerequisite '{attr}' missing")
        return value

    async def status(self):
        return await self.ptz.GetStatus({"ProfileToken": self.need("profile")})

    async def presets(self) -> list:
        return list(await self.ptz.GetPresets({"ProfileToken": self.need("profile")}) or [])

    async def wait_idle(self, limit: float):
        deadline = time.monotonic() + limit
        while True:
            st = await self.status()
            if move_state(st) == ("IDLE", "IDLE"):
                return st
            check(time.monotonic() < deadline,
                  f"not IDLE after {limit}s (MoveStatus={move_state(st)})")
            await asyncio.sleep(0.1)

    async def absolute_move(self, pan: float, tilt: float, zoom: float):
        await self.ptz.AbsoluteMove({
            "ProfileToken": self.need("profile"),
            "Position": {"PanTilt": {"x": pan, "y": tilt, "space": PT_POS},
                         "Zoom": {"x": zoom, "space": Z_POS}},
        })
        return await self.wait_idle(15.0)

    async def s01_connect(self):
        a = self.args
        # adjust_time: the library reads GetSystemDateAndTime (unauthenticated
        # first) and shifts the UsernameToken Created stamp by the clock offset.
        self.cam = ONVIFCamera(a.host, a.port, a.user, a.password, a.wsdl_dir,
                               adjust_time=True, no_cache=True)
        await self.cam.update_xaddrs()
        dev = await self.cam.create_devicemgmt_service()
        caps = await dev.GetCapabilities({"Category": "All"})
        check(caps is not None and caps.PTZ is not None and caps.PTZ.XAddr,
              "GetCapabilities has no PTZ XAddr")
        services = await dev.GetServices({"IncludeCapability": False}) or []
        svc_ptz = [s.XAddr for s in services if s.Namespace == PTZ_NS and s.XAddr]
        check(svc_ptz, f"GetServices lists no {PTZ_NS} XAddr")
        check(PTZ_NS in self.cam.xaddrs, "update_xaddrs did not record a PTZ XAddr")
        return f"clock offset {self.cam.dt_diff}, PTZ at {svc_ptz[0]}"

    async def s02_profiles(self):
        media = await self.cam.create_media_service()
        profiles = await media.GetProfiles() or []
        ptz_profiles = [p for p in profiles if p.PTZConfiguration is not None]
        check(ptz_profiles, f"none of {len(profiles)} profiles has a PTZConfiguration")
        self.profile = ptz_profiles[0].token
        check(self.profile, "PTZ profile has no token")
        return f"profile {self.profile!r}"

    async def s03_nodes(self):
        self.ptz = await self.cam.create_ptz_service()
        nodes = await self.ptz.GetNodes() or []
        check(len(nodes) >= 1, "GetNodes returned no node")
        return f"{len(nodes)} node(s)"

    async def s04_presets(self):
        self.count_before = len(await self.presets())
        return f"{self.count_before} preset(s)"

    async def s05_set_preset(self):
        token = await self.ptz.SetPreset({"ProfileToken": self.need("profile"),
                                          "PresetName": PRESET_NAME})  # no PresetToken
        check(isinstance(token, str) and token, f"no PresetToken returned: {token!r}")
        self.preset = token
        names = {p.token: p.Name for p in await self.presets()}
        check(token in names, f"GetPresets does not list token {token!r}")
        check(names[token] == PRESET_NAME, f"name is {names[token]!r}, want {PRESET_NAME!r}")
        return f"token {token!r}"

    async def s06_absolute_move(self):
        st = await self.absolute_move(*TARGET)
        close_to(position(st), TARGET, "position")

    async def s07_overwrite_preset(self):
        token = self.need("preset")
        got = await self.ptz.SetPreset(
            {"ProfileToken": self.profile, "PresetName": PRESET_NAME, "PresetToken": token})
        check(got == token, f"overwrite returned token {got!r}, want {token!r}")
        presets = await self.presets()
        match = [p for p in presets if p.token == token]
        check(len(match) == 1, f"expected exactly one preset {token!r}, found {len(match)}")
        close_to(position(match[0], "PTZPosition"), TARGET, "preset position")
        before = self.need("count_before")
        check(len(presets) == before + 1, f"preset count {len(presets)}, want {before}+1")

    async def s08_goto_preset(self):
        token = self.need("preset")
        await self.absolute_move(*ELSEWHERE)
        await self.ptz.GotoPreset({"ProfileToken": self.profile, "PresetToken": token})
        close_to(position(await self.wait_idle(15.0)), TARGET, "position after GotoPreset")

    async def s09_continuous_move(self):
        pan0 = position(await self.status())[0]
        await self.ptz.ContinuousMove({
            "ProfileToken": self.need("profile"),
            "Velocity": {"PanTilt": {"x": 0.5, "y": 0.0, "space": PT_VEL}},
            "Timeout": "PT5S",  # zeep parses the string as an xs:duration
        })
        try:
            await asyncio.sleep(0.3)
            st = await self.status()
        finally:
            await self.ptz.Stop({"ProfileToken": self.profile, "PanTilt": True, "Zoom": True})
        pan1, moving_pt = position(st)[0], move_state(st)[0]
        check(moving_pt == "MOVING", f"PanTilt MoveStatus {moving_pt!r} after 0.3s, want MOVING")
        check(abs(pan1 - pan0) > 1e-3, f"pan did not change ({pan0} -> {pan1})")
        await self.wait_idle(2.0)
        return f"pan {pan0:.3f} -> {pan1:.3f}"

    async def s10_remove_preset(self):
        token = self.need("preset")
        await self.ptz.RemovePreset({"ProfileToken": self.profile, "PresetToken": token})
        self.preset = None
        check(all(p.token != token for p in await self.presets()),
              f"token {token!r} still listed after RemovePreset")

    async def s11_unknown_preset(self):
        try:
            await self.ptz.GotoPreset({"ProfileToken": self.need("profile"),
                                       "PresetToken": "no-such-token"})
        except (Fault, ONVIFError) as err:
            # Faults surface as zeep's Fault: the library's safe_func wrapper
            # only covers building the request, not awaiting the reply.
            fault = err if isinstance(err, Fault) else err.__cause__
            if not isinstance(fault, Fault):
                raise StepFailed(f"non-SOAP-fault error: {err}") from err
            subcodes = extract_subcodes_as_strings(fault.subcodes or [])
            desc = f"got fault: {stringify_onvif_error(fault)}"  # includes code + subcodes
            check(any("NoToken" in s for s in subcodes) or "NoToken" in (fault.message or ""),
                  f"fault does not mention NoToken: {desc}")
            return desc
        raise StepFailed("GotoPreset with unknown token succeeded")

    async def cleanup(self) -> None:
        if self.ptz is not None and self.preset is not None:
            # Don't leave our preset behind if a step failed midway.
            with contextlib.suppress(Exception):
                await self.ptz.RemovePreset({"ProfileToken": self.profile,
                                             "PresetToken": self.preset})
        if self.cam is not None:
            await self.cam.close()


STEPS = [
    ("1 connect, GetCapabilities, GetServices", "s01_connect", True),
    ("2 Media GetProfiles (PTZ profile)", "s02_profiles", True),
    ("3 PTZ GetNodes", "s03_nodes", True),
    ("4 GetPresets", "s04_presets", False),
    ("5 SetPreset new (non-ASCII name)", "s05_set_preset", False),
    ("6 AbsoluteMove + GetStatus", "s06_absolute_move", False),
    ("7 SetPreset overwrite by token", "s07_overwrite_preset", False),
    ("8 GotoPreset", "s08_goto_preset", False),
    ("9 ContinuousMove + Stop", "s09_continuous_move", False),
    ("10 RemovePreset", "s10_remove_preset", False),
    ("11 GotoPreset unknown token -> NoToken fault", "s11_unknown_preset", False),
]


async def main(args: argparse.Namespace) -> int:
    run, failures, abort = Run(args), 0, None
    try:
        for name, method, fatal in STEPS:
            if abort:
                print(f"FAIL {name}: skipped ({abort} failed)")
                failures += 1
                continue
            try:
                detail = await asyncio.wait_for(getattr(run, method)(), STEP_TIMEOUT)
                print(f"ok  {name}" + (f" -- {detail}" if detail else ""), flush=True)
            except Exception as err:  # noqa: BLE001 - report every failure kind
                reason = stringify_onvif_error(err) if isinstance(err, Fault) else str(err)
                if isinstance(err, asyncio.TimeoutError) and not reason:
                    reason = f"step exceeded {STEP_TIMEOUT}s"
                print(f"FAIL {name}: {type(err).__name__}: {reason}", flush=True)
                failures += 1
                if fatal:
                    abort = f"step {name.split()[0]}"
    finally:
        await run.cleanup()
    return 0 if failures == 0 else 1


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--wsdl-dir", default=str(Path(onvif.__file__).parent / "wsdl"))
    return ap.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
