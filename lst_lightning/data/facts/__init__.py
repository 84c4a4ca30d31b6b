"""Facts about windows and static inputs, no cache and no torch: k x k window statistics
(``windows``), terrain derivatives (``terrain``), land-cover columns (``landcover``), the coarse
field's context (``context``) and seasons (``seasons``). Feature groups (lst_lightning/features)
build their arrays with them."""
