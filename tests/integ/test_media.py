"""Media side-load (docs/media.md), end to end through the binary on s3rver + dynalite: a zip of
movie records with Poster_Images/ and Movie_Videos/ folders; each file goes to
<prefix>/<Name with _>/<folder>/<file> in the destination bucket (the video over 8 MB as a
multipart upload), and each item gets L-of-S lists of s3:// URIs sorted by file name. What landed
is read back with boto3; a rerun with --restart uploads nothing."""
import csv
import hashlib
import io
import json
import os
import time
import unittest
import zipfile

import dltest as T

MIB = 1024 * 1024


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def csv_text(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode()


def media_args(dest):
    return ["--media-bucket", f"s3://{dest}/media", "--media-match", "Name",
            "--media", "Poster_Images=Image_url", "--media", "Movie_Videos=Video_url"]


def dest_objects(bucket):
    """key -> (size, etag, last_modified) for every object of the bucket."""
    out, kw = {}, {"Bucket": bucket}
    client = T.s3()
    while True:
        page = client.list_objects_v2(**kw)
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["Size"], o["ETag"], o["LastModified"])
        if not page.get("IsTruncated"):
            return out
        kw["ContinuationToken"] = page["NextContinuationToken"]


class Media(unittest.TestCase):
    def test_zip_with_media_folders(self):
        video = os.urandom(9 * MIB + 12345)  # over the 8 MiB part size: a multipart upload
        files = {
            "Poster_Images/The_Amazing_Spider-Man_2.jpg": os.urandom(150_000),
            "Poster_Images/The_Amazing_Spider-Man_2_alt.png": os.urandom(90_000),
            "Poster_Images/Spider-Man_2.jpg": os.urandom(3 * MIB),
            "Poster_Images/Spider-Man.jpg": os.urandom(40_000),
            "Poster_Images/Spider-Man_alt.jpg": os.urandom(41_000),
            "Poster_Images/Am\u00e9lie.jpg": os.urandom(20_000),
            "Poster_Images/Unmatched_Film.jpg": os.urandom(1000),
            "Movie_Videos/The_Amazing_Spider-Man_2.mp4": video,
            "Movie_Videos/Spider-Man_2_trailer.mov": os.urandom(700_000),
        }
        # the longer "Spider-Man 2" before "Spider-Man"; "No Media Film" has no files
        records = csv_text(["Name", "Year"], [["The Amazing Spider-Man 2", "2014"], ["Spider-Man 2", "2004"],
                                              ["Spider-Man", "2002"], ["Am\u00e9lie", "2001"],
                                              ["No Media Film", "1999"]])
        src = T.make_bucket()
        dest = T.make_bucket()
        T.put_objects(src, {"archive/movies.zip": zip_bytes([("movies.csv", records)] + list(files.items()))})
        table = T.make_table(pk=("Name", "S"))

        with T.TempDir() as d:
            p = T.run("run", f"s3://{src}/archive/", "--table", table, *media_args(dest),
                      "--report", f"{d}/r.json", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            with open(f"{d}/r.json") as f:
                report = json.load(f)

            def uri(name, folder, file):
                return {"S": f"s3://{dest}/media/{name}/{folder}/{file}"}

            want = {
                "The Amazing Spider-Man 2": {
                    "Year": {"S": "2014"},
                    "Image_url": {"L": [uri("The_Amazing_Spider-Man_2", "Poster_Images", "The_Amazing_Spider-Man_2.jpg"),
                                        uri("The_Amazing_Spider-Man_2", "Poster_Images", "The_Amazing_Spider-Man_2_alt.png")]},
                    "Video_url": {"L": [uri("The_Amazing_Spider-Man_2", "Movie_Videos", "The_Amazing_Spider-Man_2.mp4")]},
                },
                "Spider-Man 2": {
                    "Year": {"S": "2004"},
                    "Image_url": {"L": [uri("Spider-Man_2", "Poster_Images", "Spider-Man_2.jpg")]},
                    "Video_url": {"L": [uri("Spider-Man_2", "Movie_Videos", "Spider-Man_2_trailer.mov")]},
                },
                "Spider-Man": {
                    "Year": {"S": "2002"},
                    "Image_url": {"L": [uri("Spider-Man", "Poster_Images", "Spider-Man.jpg"),
                                        uri("Spider-Man", "Poster_Images", "Spider-Man_alt.jpg")]},
                },
                "Am\u00e9lie": {
                    "Year": {"S": "2001"},
                    "Image_url": {"L": [uri("Am\u00e9lie", "Poster_Images", "Am\u00e9lie.jpg")]},
                },
                "No Media Film": {"Year": {"S": "1999"}},
            }
            items = {it["Name"]["S"]: {k: v for k, v in it.items() if k != "Name"} for it in T.scan(table)}
            self.assertEqual(items, want)

            # what landed: one object per matched file, byte for byte, typed, with its SHA-256
            landed = dest_objects(dest)
            expected_keys = {}
            for entry, data in files.items():
                folder, file = entry.split("/")
                stem = file.rsplit(".", 1)[0]
                owner = next((n.replace(" ", "_") for n in sorted(want, key=len, reverse=True)
                              if stem == n.replace(" ", "_") or stem.startswith(n.replace(" ", "_") + "_")), None)
                if owner:
                    expected_keys[f"media/{owner}/{folder}/{file}"] = data
            self.assertEqual(sorted(landed), sorted(expected_keys))
            self.assertEqual(len(landed), 8)
            client = T.s3()
            types = {"jpg": "image/jpeg", "png": "image/png", "mp4": "video/mp4", "mov": "video/quicktime"}
            for key, data in expected_keys.items():
                got = client.get_object(Bucket=dest, Key=key)
                self.assertEqual(got["Body"].read(), data, key)
                self.assertEqual(got["ContentType"], types[key.rsplit(".", 1)[1]], key)
                self.assertEqual(got["Metadata"].get("ddbload-sha256"), hashlib.sha256(data).hexdigest(), key)

            # the report: stderr lines and --report counts
            self.assertIn("media file Poster_Images/Unmatched_Film.jpg matches no item's Name: not uploaded",
                          p.stderr_text)
            self.assertIn("item with Name 'No Media Film' has no media file", p.stderr_text)
            self.assertEqual(report["media"], {
                "files": 9, "uploaded": 8, "upload_bytes": sum(expected_keys_sizes(expected_keys)),
                "already_present": 0, "failed": 0, "unmatched_files": 1,
                "items_with_media": 4, "items_without_media": 1}, json.dumps(report, indent=1))

            # a rerun uploads nothing: every object is found with the same content
            time.sleep(1.1)
            p = T.run("run", f"s3://{src}/archive/", "--table", table, *media_args(dest),
                      "--report", f"{d}/r2.json", "--restart", cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
            with open(f"{d}/r2.json") as f:
                report = json.load(f)
            self.assertEqual(report["media"]["uploaded"], 0, json.dumps(report["media"]))
            self.assertEqual(report["media"]["already_present"], 8)
            self.assertEqual(report["media"]["upload_bytes"], 0)
            self.assertEqual(dest_objects(dest), landed)  # same keys, ETags and LastModified
            items = {it["Name"]["S"]: {k: v for k, v in it.items() if k != "Name"} for it in T.scan(table)}
            self.assertEqual(items, want)

    def test_top_folder_and_shorter_name_first(self):
        """A zip whose entries all sit in one top folder, with records in name order ("Spider-Man"
        before "Spider-Man 2"). "Spider-Man 2" gets exactly its files; "Spider-Man" gets its own,
        and, when names are only learnt as items come (no first pass over the records), also the
        files of the longer name that it took first, with a warning that says so."""
        files = {
            "Catalog/Poster_Images/Spider-Man.jpg": b"sm",
            "Catalog/Poster_Images/Spider-Man_2.jpg": b"sm2",
            "Catalog/Poster_Images/Spider-Man_2_alt.jpg": b"sm2alt",
            "Catalog/Poster_Images/.DS_Store": b"junk",
        }
        records = json.dumps([{"Name": "Spider-Man", "Rank": 1}, {"Name": "Spider-Man 2", "Rank": 2}]).encode()
        src = T.make_bucket()
        dest = T.make_bucket()
        T.put_objects(src, {"in/catalog.zip": zip_bytes([("Catalog/movies.json", records)] + list(files.items()))})
        table = T.make_table(pk=("Name", "S"))
        with T.TempDir() as d:
            p = T.run("run", f"s3://{src}/in/", "--table", table, *media_args(dest), cwd=d)
            self.assertEqual(p.returncode, 0, T.describe(p))
        items = {it["Name"]["S"]: it for it in T.scan(table)}

        def uris(name, *names):
            return {"L": [{"S": f"s3://{dest}/media/{name}/Poster_Images/{n}"} for n in names]}

        self.assertEqual(items["Spider-Man 2"]["Image_url"], uris("Spider-Man_2", "Spider-Man_2.jpg", "Spider-Man_2_alt.jpg"))
        self.assertEqual(items["Spider-Man 2"]["Rank"], {"N": "2"})
        # every name is known before any file is placed (a first pass over the records): the
        # longer name keeps its files even though the shorter one comes first
        self.assertNotIn("goes to the items with Name", p.stderr_text)
        self.assertEqual(items["Spider-Man"]["Image_url"], uris("Spider-Man", "Spider-Man.jpg"))
        landed = dest_objects(dest)
        self.assertIn("media/Spider-Man_2/Poster_Images/Spider-Man_2_alt.jpg", landed)
        self.assertNotIn("DS_Store", " ".join(landed))
        self.assertEqual(T.s3().get_object(Bucket=dest, Key="media/Spider-Man/Poster_Images/Spider-Man.jpg")["Body"].read(),
                         b"sm")


    def test_failed_uploads_are_reported(self):
        """A destination bucket that does not exist: every upload fails (the multipart one at its
        start), each failure is reported with S3's answer, and the items are written without
        lists."""
        src = T.make_bucket()
        T.put_objects(src, {"in/c.zip": zip_bytes([("movies.csv", b"Name\nA\nB\n"), ("Poster_Images/A.jpg", b"a"),
                                                   ("Movie_Videos/B.mp4", os.urandom(9 * MIB))])})
        table = T.make_table(pk=("Name", "S"))
        missing = T.unique("no-such-bucket")
        with T.TempDir() as d:
            p = T.run("run", f"s3://{src}/in/", "--table", table, *media_args(missing), "--report", f"{d}/r.json",
                      "--dead-letter", f"{d}/dead.ndjson", cwd=d)
            with open(f"{d}/r.json") as f:
                report = json.load(f)
            with open(f"{d}/dead.ndjson") as f:
                dead = [json.loads(line) for line in f]
        # not lost without a trace: exit 2, and the failure is in the dead-letter file
        self.assertEqual(p.returncode, 2, T.describe(p))
        self.assertTrue(dead and all("media upload failed" in r["reason"] for r in dead), dead)
        self.assertTrue(any("NoSuchBucket" in r["reason"] for r in dead), dead)
        for entry, name in (("Poster_Images/A.jpg", "A"), ("Movie_Videos/B.mp4", "B")):
            self.assertIn(f"media file {entry} could not be uploaded: s3://{missing}/media/{name}/", p.stderr_text)
        self.assertIn("NoSuchBucket", p.stderr_text)
        self.assertEqual(report["media"]["failed"], 2, T.describe(p))
        self.assertEqual(report["media"]["uploaded"], 0)
        self.assertEqual(sorted(T.scan(table), key=lambda it: it["Name"]["S"]),
                         [{"Name": {"S": "A"}}, {"Name": {"S": "B"}}])


def expected_keys_sizes(expected):
    return [len(v) for v in expected.values()]


if __name__ == "__main__":
    unittest.main()
