#!/usr/bin/python3
"""Calls quarry-server from Python, as another service would.

Usage: test_api.py <path to quarry-server> <path to the repository's proto/ directory>

Uses Debian's python3-grpcio. The quarry.v1 and grpc.health.v1 stubs are generated at test time
into a temporary directory: with protoc + grpc_python_plugin when they are installed (Debian's
protoc 3.21 understands proto3 `optional`), else with `python3 -m grpc_tools.protoc`.
The server runs on 127.0.0.1 with an ephemeral port on a temporary data directory; the test
waits for its "listening on" line. Exits non-zero on any failure.
"""

import importlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HEALTH_PROTO_DIR = "/usr/share/grpc-proto/grpc/health/v1"
LISTENING_PREFIX = "quarry-server listening on "
STARTUP_TIMEOUT_S = 120
RPC_TIMEOUT_S = 60

SERVER_BINARY = None
PROTO_DIR = None


def generate_stubs(out_dir):
    """Generates quarry/v1/quarry_pb2{,_grpc}.py and (flat) health_pb2{,_grpc}.py."""
    jobs = [(PROTO_DIR, "quarry/v1/quarry.proto")]
    if os.path.exists(os.path.join(HEALTH_PROTO_DIR, "health.proto")):
        jobs.append((HEALTH_PROTO_DIR, "health.proto"))
    protoc = shutil.which("protoc") or "/usr/bin/protoc"
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    use_protoc = os.path.exists(protoc) and os.path.exists(plugin)
    for include_dir, proto in jobs:
        if use_protoc:
            command = [protoc, "-I", include_dir, "--python_out", out_dir,
                       "--grpc_python_out", out_dir,
                       "--plugin=protoc-gen-grpc_python=" + plugin, proto]
        else:
            command = [sys.executable, "-m", "grpc_tools.protoc", "-I", include_dir,
                       "--python_out", out_dir, "--grpc_python_out", out_dir, proto]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError("stub generation failed: %s\n%s" % (" ".join(command),
                                                                   result.stderr))


class Server:
    """The quarry-server process: started, waited for, stopped with SIGTERM."""

    def __init__(self, binary, data_dir, log_path):
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUARRY_")}
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [binary, "--address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
             "--data_dir=" + data_dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, env=env)
        self.address = self._wait_for_listening_line()

    def _wait_for_listening_line(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        buffer = b""
        try:
            while True:
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    if text.startswith(LISTENING_PREFIX):
                        return text[len(LISTENING_PREFIX):].strip()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError("no listening line within %d s" % STARTUP_TIMEOUT_S)
                if not selector.select(timeout=remaining):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError("quarry-server exited before listening (status %s)"
                                       % self.process.wait())
                buffer += chunk
        except Exception:
            self.kill()
            sys.stderr.write(self.log())
            raise
        finally:
            selector.close()

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self._close()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self):
        if self.process.stdout:
            self.process.stdout.close()
        self._log.close()


class QuarryApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import grpc  # Debian's python3-grpcio
        cls.grpc = grpc
        cls.temp = tempfile.mkdtemp(prefix="quarry-python-")
        try:
            stubs = os.path.join(cls.temp, "stubs")
            os.mkdir(stubs)
            generate_stubs(stubs)
            sys.path.insert(0, stubs)
            cls.pb = importlib.import_module("quarry.v1.quarry_pb2")
            cls.rpc = importlib.import_module("quarry.v1.quarry_pb2_grpc")
            cls.server = Server(SERVER_BINARY, os.path.join(cls.temp, "data"),
                                os.path.join(cls.temp, "server.log"))
        except Exception:
            shutil.rmtree(cls.temp, ignore_errors=True)
            raise
        try:
            cls.channel = grpc.insecure_channel(cls.server.address)
            grpc.channel_ready_future(cls.channel).result(timeout=RPC_TIMEOUT_S)
        except Exception:
            cls.server.kill()
            sys.stderr.write(cls.server.log())
            shutil.rmtree(cls.temp, ignore_errors=True)
            raise
        cls.collections = cls.rpc.CollectionServiceStub(cls.channel)
        cls.documents = cls.rpc.DocumentServiceStub(cls.channel)
        cls.search = cls.rpc.SearchServiceStub(cls.channel)
        cls.failed = False

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        status = cls.server.stop()
        if status != 0 or cls.failed:
            sys.stderr.write("--- quarry-server log ---\n" + cls.server.log())
        shutil.rmtree(cls.temp, ignore_errors=True)
        if status != 0:
            raise AssertionError("quarry-server exited with status %r after SIGTERM" % status)

    def run(self, result=None):
        result = super().run(result)
        if result is not None and (result.failures or result.errors):
            type(self).failed = True
        return result

    def doc(self, doc_id, text, title="", **metadata):
        document = self.pb.Document(id=doc_id, text=text, title=title)
        for key, value in metadata.items():
            if isinstance(value, bool):
                document.metadata[key].bool_value = value
            elif isinstance(value, (int, float)):
                document.metadata[key].number_value = value
            else:
                document.metadata[key].string_value = value
        return document

    def assert_code(self, code, call, *args):
        with self.assertRaises(self.grpc.RpcError) as raised:
            call(*args, timeout=RPC_TIMEOUT_S)
        self.assertEqual(raised.exception.code(), code, raised.exception.details())
        self.assertTrue(raised.exception.details(), "error without a message")
        return raised.exception

    def test_create_ingest_search(self):
        pb = self.pb
        created = self.collections.CreateCollection(
            pb.CreateCollectionRequest(name="python"), timeout=RPC_TIMEOUT_S)
        self.assertEqual(created.name, "python")
        self.assertEqual(created.spec.dimension, 768)
        listed = self.collections.ListCollections(pb.ListCollectionsRequest(),
                                                  timeout=RPC_TIMEOUT_S)
        self.assertIn("python", [c.name for c in listed.collections])

        response = self.documents.Ingest(pb.IngestRequest(collection="python", documents=[
            self.doc("tea", "Green tea is steeped at 80 degrees for two minutes.", "Tea",
                     kind="drink", year=2021),
            self.doc("bike", "Adjust the bicycle derailleur until the chain shifts cleanly.",
                     "Bikes", kind="howto", year=2019),
            self.doc("moon", "The Moon's gravity drives the ocean tides on Earth.", "Moon",
                     kind="science", year=2023, reviewed=True),
        ]), timeout=RPC_TIMEOUT_S)
        self.assertEqual(list(response.ids), ["tea", "bike", "moon"])
        self.assertGreaterEqual(response.chunks, 3)

        got = self.collections.GetCollection(pb.GetCollectionRequest(name="python"),
                                             timeout=RPC_TIMEOUT_S)
        self.assertEqual(got.stats.documents, 3)

        result = self.search.Search(pb.SearchRequest(
            collection="python", text="what causes ocean tides",
            options=pb.RetrievalOptions(top_k=2)), timeout=RPC_TIMEOUT_S)
        self.assertEqual(result.mode, pb.SEARCH_MODE_HYBRID)
        self.assertGreaterEqual(len(result.hits), 1)
        self.assertLessEqual(len(result.hits), 2)
        top = result.hits[0]
        self.assertEqual(top.document_id, "moon")
        self.assertEqual(top.chunk_id, "moon#0")
        self.assertEqual(top.title, "Moon")
        self.assertIn("tides", top.text)
        self.assertEqual(top.metadata["kind"].string_value, "science")
        self.assertTrue(top.metadata["reviewed"].bool_value)

        # A filter (proto3 optional fields in FieldRange) from Python.
        result = self.search.Search(pb.SearchRequest(
            collection="python", text="tea bicycle tides",
            options=pb.RetrievalOptions(top_k=10, mode=pb.SEARCH_MODE_LEXICAL,
                                        filter=pb.Filter(range=pb.FieldRange(field="year",
                                                                             lt=2020)))),
            timeout=RPC_TIMEOUT_S)
        self.assertEqual([hit.document_id for hit in result.hits], ["bike"])

        # Client-streaming ingest, then delete.
        stream = self.documents.IngestStream(iter([
            pb.IngestStreamRequest(collection="python", documents=[
                self.doc("s1", "Streamed note about sourdough starters.")]),
            pb.IngestStreamRequest(documents=[self.doc("s2", "Streamed note about kites.")]),
        ]), timeout=RPC_TIMEOUT_S)
        self.assertEqual(stream.documents, 2)
        deleted = self.documents.DeleteDocuments(
            pb.DeleteDocumentsRequest(collection="python", ids=["s1", "nope"]),
            timeout=RPC_TIMEOUT_S)
        self.assertEqual(deleted.deleted, 1)
        fetched = self.documents.GetDocument(pb.GetDocumentRequest(collection="python", id="s2"),
                                             timeout=RPC_TIMEOUT_S)
        self.assertEqual(fetched.text, "Streamed note about kites.")

    def test_error_codes(self):
        pb, codes = self.pb, self.grpc.StatusCode
        self.assert_code(codes.NOT_FOUND, self.collections.GetCollection,
                         pb.GetCollectionRequest(name="no-such-collection"))
        self.assert_code(codes.NOT_FOUND, self.search.Search,
                         pb.SearchRequest(collection="no-such-collection", text="anything"))
        self.assert_code(codes.INVALID_ARGUMENT, self.collections.CreateCollection,
                         pb.CreateCollectionRequest(name="../escape"))
        self.collections.CreateCollection(pb.CreateCollectionRequest(name="errors"),
                                          timeout=RPC_TIMEOUT_S)
        self.assert_code(codes.ALREADY_EXISTS, self.collections.CreateCollection,
                         pb.CreateCollectionRequest(name="errors"))
        self.assert_code(codes.INVALID_ARGUMENT, self.documents.Ingest,
                         pb.IngestRequest(collection="errors",
                                          documents=[self.doc("empty", "")]))
        self.assert_code(codes.INVALID_ARGUMENT, self.search.Search,
                         pb.SearchRequest(collection="errors", text="x",
                                          options=pb.RetrievalOptions(top_k=-1)))
        self.assert_code(codes.NOT_FOUND, self.documents.GetDocument,
                         pb.GetDocumentRequest(collection="errors", id="missing"))

    def test_health(self):
        try:
            health_pb2 = importlib.import_module("health_pb2")
            health_pb2_grpc = importlib.import_module("health_pb2_grpc")
        except ImportError:
            self.skipTest("grpc-proto's health.proto is not installed")
        stub = health_pb2_grpc.HealthStub(self.channel)
        response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=RPC_TIMEOUT_S)
        self.assertEqual(response.status, health_pb2.HealthCheckResponse.SERVING)


def main():
    global SERVER_BINARY, PROTO_DIR
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    SERVER_BINARY, PROTO_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(QuarryApiTest)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
