"""Group ``context``: the coarse field around the window (data/facts/context.py): the 8 neighbouring
windows' mean LST and mean elevation minus the window's own (``ctx_lst_<dir>``, ``ctx_elev_<dir>``;
a neighbour off the grid or not valid counts as equal, 0), and the frame's coarse LST-elevation
slope (``ctx_lapse``, K/km)."""
from __future__ import annotations

from lst_lightning.features.base import FeatureGroup

# the 8 neighbouring windows, one window side away: (name, row step, column step)
NEIGHBOURS = (("n", -1, 0), ("ne", -1, 1), ("e", 0, 1), ("se", 1, 1),
              ("s", 1, 0), ("sw", 1, -1), ("w", 0, -1), ("nw", -1, -1))


class Context(FeatureGroup):
    name = "context"
    columns = (tuple(f"ctx_lst_{d}" for d, _, _ in NEIGHBOURS) + tuple(f"ctx_elev_{d}" for d, _, _ in NEIGHBOURS)
               + ("ctx_lapse",))
    reads = ("window_mean", "elev_mean", "frame_lapse")
    scaling = "standardize"
    reach = 1

    def compute(self, s, state):
        xp, w = s.xp, s.width
        window_mean, elev = s.array("window_mean"), s.array("elev_mean")
        mean, elev_mean = s.at("window_mean"), s.pixel("elev_mean")
        out = {"ctx_lapse": s.float32(s.table("frame_lapse"))}
        for name, dr, dc in NEIGHBOURS:
            rr, cc, inside = s.windows_away(dr, dc)
            lst = s.float32(window_mean[s.f, rr, cc]) - mean
            height = elev[rr * w + cc] - elev_mean
            out[f"ctx_lst_{name}"] = xp.where(inside & xp.isfinite(lst), lst, s.zero)
            out[f"ctx_elev_{name}"] = xp.where(inside & xp.isfinite(height), height, s.zero)
        return out
