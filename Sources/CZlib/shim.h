// zlib (Debian zlib1g-dev): raw inflate for the deflate codec of Event Hubs Capture Avro files
// (Foundation on Linux has no zlib API).
#include <zlib.h>
