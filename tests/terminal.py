"""What a terminal shows for text written to it, for checks on progress-bar output."""
from __future__ import annotations


def screen_lines(text: str) -> list[str]:
    """The lines a terminal shows: a carriage return moves back to column 0 and what follows
    overwrites the line; trailing blanks are dropped."""
    lines, line, col = [], [], 0
    for ch in text:
        if ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    lines.append("".join(line).rstrip())
    return lines


def run_in_terminal(args: list[str], cols: int = 100, timeout: float = 600, **kwargs) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a pseudo-terminal ``cols`` wide, as a user's shell
    would: (exit code, everything written, escapes included)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True, **kwargs)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
    os.close(master)
    return proc.wait(), b"".join(chunks).decode("utf8", "replace")
