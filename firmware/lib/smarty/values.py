# Exact values.  The ESP ports' floats are 32-bit (112743.030 does not survive one),
# so a meter's decimal number stays the text it was written as.


class Fixed:
    """A decimal number exactly as the meter wrote it ("000273.764")."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        """Canonical digits: leading zeros dropped, the meter's decimals kept ("273.764")."""
        text = self.text
        whole, dot, fraction = text.lstrip("+-").partition(".")
        digits = (whole.lstrip("0") or "0") + dot + fraction
        return "-" + digits if text[0] == "-" and digits.strip("0.") else digits

    def __repr__(self):
        return "Fixed(%r)" % self.text

    def scaled(self, places):
        """The value times 10**places, as an exact int (extra decimals truncated)."""
        whole, _, fraction = self.text.lstrip("+-").partition(".")
        value = int(whole + (fraction + "0" * places)[:places])
        return -value if self.text[0] == "-" else value

    def __eq__(self, other):
        if isinstance(other, int):
            other = Fixed(str(other))
        if not isinstance(other, Fixed):
            return NotImplemented
        places = max(len(self.text.partition(".")[2]), len(other.text.partition(".")[2]))
        return self.scaled(places) == other.scaled(places)

    def __hash__(self):
        return hash(str(self))
