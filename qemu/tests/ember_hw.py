# SPDX-License-Identifier: GPL-2.0-or-later
"""Constants of firmware/include/ember/hw.h and uapi/drm/ember_accel.h,
parsed from the headers so the tests cannot drift from the contract."""
import os
import re

_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_HEADERS = ["firmware/include/ember/hw.h", "uapi/drm/ember_accel.h"]


def _c_to_py(expr):
    expr = re.sub(r"/\*.*?\*/", "", expr).strip()
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)(?:[uU]?[lL]{0,2}|[lL]{1,2}[uU]?)\b", r"\1", expr)
    return expr


def _load():
    env = {}
    for h in _HEADERS:
        text = open(os.path.join(_ROOT, h)).read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        for m in re.finditer(r"^#define\s+(\w+)(\((\w+)\))?[ \t]+(.+)$", text, re.M):
            name, _, arg, val = m.groups()
            val = _c_to_py(val)
            try:
                if arg:
                    env[name] = eval("lambda %s: %s" % (arg, val), {}, dict(env))
                else:
                    env[name] = eval(val, {}, dict(env))
            except Exception:
                pass
        for m in re.finditer(r"^\s*(EMBER_\w+)\s*=\s*([^,\n]+),?", text, re.M):
            try:
                env[m.group(1)] = eval(_c_to_py(m.group(2)), {}, dict(env))
            except Exception:
                pass
    return env


globals().update({k: v for k, v in _load().items() if not k.startswith("_")})
