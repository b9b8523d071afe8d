"""librdkafka's mock cluster as a real Kafka-protocol peer for tests and benchmarks.

In-process (pytest fixture): `MockCluster(brokers=1)` starts the cluster on librdkafka's threads through
ctypes; `.bootstrap` is its address; `.create_topic`, `.broker_down/up` and `.push_errors` drive it.
Standalone (bench/eh_source.sh): `python kafka_mock.py --topic t --partitions 8` prints the bootstrap
address on stdout and runs until stdin closes or it gets SIGTERM.

Limits (../shared/design/eventhubs.md): memory only, PLAINTEXT only, ~5 MiB per partition, the first
group join waits ~3 s: use session.timeout.ms=6000 and a fresh group id per test.
"""
import ctypes
import ctypes.util
import subprocess
import sys

_lib = ctypes.CDLL(ctypes.util.find_library("rdkafka") or "librdkafka.so.1")
_lib.rd_kafka_conf_new.restype = ctypes.c_void_p
_lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
_lib.rd_kafka_new.restype = ctypes.c_void_p
_lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
_lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
_lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
_lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
_lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
_lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
_lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
_lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
_lib.rd_kafka_mock_broker_set_down.argtypes = [ctypes.c_void_p, ctypes.c_int32]
_lib.rd_kafka_mock_broker_set_up.argtypes = [ctypes.c_void_p, ctypes.c_int32]
_lib.rd_kafka_mock_push_request_errors_array.argtypes = [
    ctypes.c_void_p, ctypes.c_int16, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int)]

RD_KAFKA_PRODUCER = 0
API_FETCH = 1
API_OFFSET_COMMIT = 8
API_HEARTBEAT = 12
ERR_NOT_LEADER_FOR_PARTITION = 6
ERR_REQUEST_TIMED_OUT = 7
ERR_NOT_COORDINATOR = 16


class MockCluster:
    def __init__(self, brokers: int = 1):
        conf = _lib.rd_kafka_conf_new()
        err = ctypes.create_string_buffer(512)
        # Quiet: the handle only hosts the cluster.
        _lib.rd_kafka_conf_set(conf, b"log_level", b"0", err, 512)
        self._rk = _lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, 512)
        if not self._rk:
            raise RuntimeError(f"rd_kafka_new: {err.value.decode()}")
        self._mc = _lib.rd_kafka_mock_cluster_new(self._rk, brokers)
        if not self._mc:
            raise RuntimeError("rd_kafka_mock_cluster_new failed")
        self.brokers = brokers
        self.bootstrap = _lib.rd_kafka_mock_cluster_bootstraps(self._mc).decode()

    def create_topic(self, name: str, partitions: int):
        rc = _lib.rd_kafka_mock_topic_create(self._mc, name.encode(), partitions, 1)
        if rc != 0:
            raise RuntimeError(f"rd_kafka_mock_topic_create({name}) = {rc}")

    def broker_down(self, broker_id: int = 1):
        _lib.rd_kafka_mock_broker_set_down(self._mc, broker_id)

    def broker_up(self, broker_id: int = 1):
        _lib.rd_kafka_mock_broker_set_up(self._mc, broker_id)

    def push_errors(self, api_key: int, errors):
        arr = (ctypes.c_int * len(errors))(*errors)
        _lib.rd_kafka_mock_push_request_errors_array(self._mc, api_key, len(errors), arr)

    def produce(self, topic: str, partition: int, lines):
        """Produces records (bytes; they may contain newlines) to one partition with kcat, one message each."""
        sep = b"\x1e"  # ASCII record separator: kcat's -D splits on it, so a value may hold '\n'
        data = b"".join(l + sep for l in lines)
        subprocess.run(["kcat", "-P", "-b", self.bootstrap, "-t", topic, "-p", str(partition), "-D", sep.decode(),
                        "-X", "log_level=0"], input=data, check=True, timeout=60)

    def close(self):
        if self._mc:
            _lib.rd_kafka_mock_cluster_destroy(self._mc)
            self._mc = None
        if self._rk:
            _lib.rd_kafka_destroy(self._rk)
            self._rk = None


def main():
    import argparse
    import signal
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--brokers", type=int, default=1)
    p.add_argument("--topic", action="append", default=[])
    p.add_argument("--partitions", type=int, default=4)
    a = p.parse_args()
    cluster = MockCluster(a.brokers)
    for t in a.topic:
        cluster.create_topic(t, a.partitions)
    print(cluster.bootstrap, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sys.stdin.read()  # runs until stdin closes
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
