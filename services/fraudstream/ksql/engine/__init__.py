"""The pure KSQL engine: metastore, planning, expressions, functions, operators,
state and formats. No Kafka, HTTP or config here: the server wing feeds it records."""
