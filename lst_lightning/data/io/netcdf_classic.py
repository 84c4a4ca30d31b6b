"""Truncation check for classic (CDF-1/2/5) NetCDF files, from their hand-parsed header.

Why by hand: the NetCDF library reads a truncated classic file without complaint, filling the
missing tail with fill values or garbage, so a cut-off download would silently become data.
The header states every variable's offset and size, so the file's minimum length is known.
NetCDF-4 (HDF5) files are not classic; the library itself detects their truncation.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lst_lightning.errors import LSTError

# bytes per value of each classic nc_type (NC_BYTE=1 .. NC_UINT64=11)
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}


def classic_data_end(path: Path) -> int | None:
    """Bytes a classic (CDF-1/2/5) NetCDF file must hold to contain all its variables' data, from
    its header; None when the file is not classic or its header cannot be parsed (the NetCDF
    library judges those)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if len(head) < 4 or head[:3] != b"CDF" or head[3] not in (1, 2, 5):
                return None
            numrecs, variables = _parse_header(fh, version=head[3])
    except (OSError, EOFError, ValueError, KeyError, IndexError):
        return None
    return _data_end(numrecs, variables)


def _parse_header(fh, version: int) -> tuple[int, list[tuple[bool, int, int]]]:
    """(record count, [(is record variable, data offset, bytes per record or in all)]) of the
    header after the 4 magic bytes; EOFError/ValueError/KeyError/IndexError when malformed."""
    size = 8 if version == 5 else 4  # NON_NEG / nelems / dimid / vsize width
    offset_size = 4 if version == 1 else 8

    def read(n: int) -> bytes:
        data = fh.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def num(n: int = size) -> int:
        return int.from_bytes(read(n), "big")

    def name() -> None:
        n = num()
        read((n + 3) // 4 * 4)

    def attrs() -> None:
        tag, count = num(4), num()
        if tag not in (0, 0x0C):
            raise ValueError
        for _ in range(count):
            name()
            kind, n = num(4), num()
            read((n * TYPE_SIZE[kind] + 3) // 4 * 4)

    numrecs = num()
    if numrecs == (1 << (8 * size)) - 1:  # streaming: record count unknown
        numrecs = 0
    _tag, ndims = num(4), num()  # NC_DIMENSION (or ABSENT)
    dims = []
    for _ in range(ndims):
        name()
        dims.append(num())
    attrs()
    _tag, nvars = num(4), num()  # NC_VARIABLE (or ABSENT)
    variables = []
    for _ in range(nvars):
        name()
        dimids = [num() for _ in range(num())]
        attrs()
        kind, _vsize, begin = num(4), num(), num(offset_size)  # vsize is unreliable past 4 GiB
        shape = [dims[d] for d in dimids]
        is_record = bool(shape) and shape[0] == 0
        nbytes = int(np.prod(shape[1:] if is_record else shape, dtype=np.int64)) * TYPE_SIZE[kind]
        variables.append((is_record, begin, nbytes))
    return numrecs, variables


def _data_end(numrecs: int, variables: list[tuple[bool, int, int]]) -> int:
    # record variables interleave: one record of each per step, each padded to 4 bytes unless
    # there is a single record variable
    record = [v for v in variables if v[0]]
    recsize = record[0][2] if len(record) == 1 else sum((v[2] + 3) // 4 * 4 for v in record)
    end = 0
    for is_record, begin, nbytes in variables:
        if is_record:
            if numrecs:
                end = max(end, begin + (numrecs - 1) * recsize + nbytes)
        elif nbytes:
            end = max(end, begin + nbytes)
    return end


def check_not_truncated(path: Path) -> None:
    """Raise LSTError when a classic NetCDF file is shorter than its header says (OSError passes)."""
    end = classic_data_end(path)
    if end is not None:
        size = path.stat().st_size
        if size < end:
            raise LSTError(f"NetCDF file {path} is truncated ({size} bytes; its header describes "
                           f"data up to byte {end})")
