"""Feature groups: one module per group, each declaring its columns, the cache arrays it reads and
builds, its computation (one for numpy and torch), default scaling, and the input it needs
(features/base.py). This package registers the built-in ones, in this order:

=========  =====================================================  =======
group      columns                                                where
=========  =====================================================  =======
lst_mean   window-mean LST (K)                                    scalar
elev_mean  window-mean elevation (m)                              scalar
elev_diff  k*k elevation differences from the window mean (m)     patch
doy        sin, cos of day of year                                scalar
tod        sin, cos of time of day                                scalar
latlon     latitude, longitude of the centre (deg)                scalar
ndvi       k*k NDVI window (month of the frame, or static)        patch
terrain    slope (deg), sin/cos aspect, topographic position (m)  scalar
landcover  the window's class fractions, the centre's class       scalar
context    neighbouring windows minus the own, the frame's lapse  scalar
illumination  cos of the sun's incidence on the slope (centre,    scalar
           window mean) at the frame's overpass
illum_diff the window's cos i minus its mean, k*k                 patch
position   topographic position at 3, 9, 27 px (m)                scalar
water      the window's water fraction, distance to water (km)    scalar
local_fit  LST on elevation and NDVI over the 5 x 5 windows       scalar
           around: the slopes, and what they give the centre
=========  =====================================================  =======

Adding a group: a module with a ``FeatureGroup`` subclass, registered (``register``) when
imported; list the module under ``features.modules`` to use it from the command line.
"""
from __future__ import annotations

from lst_lightning.features import (
    context,
    doy,
    elev_diff,
    elev_mean,
    illumination,
    landcover,
    latlon,
    local_fit,
    lst_mean,
    ndvi,
    position,
    terrain,
    tod,
    water,
)
from lst_lightning.features.base import FeatureGroup, Samples, StaticInputs
from lst_lightning.features.layout import ORIGINAL_GROUPS, FeatureLayout, resolve_groups
from lst_lightning.features.registry import (
    GROUPS,
    array_builders,
    group,
    optional_inputs,
    register,
    scale_bound,
    unregister,
)

BUILT_IN = (lst_mean.LSTMean(), elev_mean.ElevMean(), elev_diff.ElevDiff(), doy.DayOfYear(), tod.TimeOfDay(),
            latlon.LatLon(), ndvi.NDVI(), terrain.Terrain(), landcover.LandCover(), context.Context(),
            illumination.Illumination(), illumination.IlluminationDiff(), position.Position(), water.Water(),
            local_fit.LocalFit())
for _group in BUILT_IN:
    register(_group)
ALL_GROUPS = tuple(g.name for g in BUILT_IN)  # the built-in groups, in registry order

__all__ = ["ALL_GROUPS", "BUILT_IN", "FeatureGroup", "FeatureLayout", "GROUPS", "ORIGINAL_GROUPS", "Samples",
           "StaticInputs", "array_builders", "group", "optional_inputs", "register", "resolve_groups", "scale_bound",
           "unregister"]
