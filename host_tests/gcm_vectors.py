"""GCM test vectors from host_tests/vectors/gcm, as plain records."""

from dataclasses import dataclass

from conftest import VECTORS


@dataclass
class GcmCase:
    key: bytes
    iv: bytes
    aad: bytes
    pt: bytes | None  # None: the case must be rejected
    ct: bytes
    tag: bytes

    def line(self):
        """One line for the MicroPython checker: key iv aad ct tag pt|FAIL (hex, '-' empty)."""
        fields = [self.key, self.iv, self.aad, self.ct, self.tag]
        hexes = [f.hex() or "-" for f in fields] + [
            "FAIL" if self.pt is None else self.pt.hex() or "-"
        ]
        return " ".join(hexes)


def nist_cases():
    """The 750 NIST CAVS cases (both files); FAIL cases have pt None."""
    cases = []
    for name in ("nist_gcmDecrypt128_IV96_Tag96.rsp", "nist_gcmEncryptExtIV128_IV96_Tag96.rsp"):
        record = None
        for line in (VECTORS / "gcm" / name).read_text().splitlines():
            if line.startswith("Count"):
                if record is not None:
                    cases.append(_case(record))
                record = {}
            elif record is not None and line.strip() == "FAIL":
                record["FAIL"] = True
            elif record is not None and "=" in line and line[0] not in "#[":
                key, _, value = line.partition("=")
                record[key.strip()] = bytes.fromhex(value.strip())
        cases.append(_case(record))
    return cases


def _case(r):
    pt = None if r.get("FAIL") else r["PT"]
    return GcmCase(r["Key"], r["IV"], r["AAD"], pt, r["CT"], r["Tag"])
