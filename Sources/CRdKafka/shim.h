// librdkafka (Debian librdkafka-dev): the consumer API, and the mock cluster that tests and
// benchmarks use as a real Kafka-protocol peer (see ../shared/design/eventhubs.md).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
