"""Copy one member out of a wheel/zip or a (gzipped) tarball, without unpacking the rest.

Usage: python extract_member.py ARCHIVE MEMBER OUT
Exits 3 with a message when MEMBER is not in ARCHIVE, 4 when ARCHIVE is unreadable.
"""

import shutil
import sys
import tarfile
import zipfile


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: extract_member.py ARCHIVE MEMBER OUT", file=sys.stderr)
        return 2
    archive, member, out = sys.argv[1:]
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                try:
                    src = z.open(member)
                except KeyError:
                    print(f"{member} is not in {archive}", file=sys.stderr)
                    return 3
                with src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        else:
            with tarfile.open(archive) as t:
                try:
                    info = t.getmember(member)
                except KeyError:
                    print(f"{member} is not in {archive}", file=sys.stderr)
                    return 3
                src = t.extractfile(info)
                if src is None:
                    print(f"{member} in {archive} is not a regular file", file=sys.stderr)
                    return 3
                with src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
        print(f"cannot read {archive}: {e}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
