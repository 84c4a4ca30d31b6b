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
