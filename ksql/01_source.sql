-- 01 · Raw card events, exactly as the producer writes them (JSON, one object per event).
--
-- Topic:     source_topic (default creditcardfraud_source), keyed by the user name.
-- Variables: source_topic, source_partitions (the apply command defaults the partition count
--            to the existing topic's, because ksqlDB rejects a PARTITIONS value that differs
--            from an existing topic's).
--
-- Class is INT: the producer writes 0, 1 or null (unknown label, live traffic). The seed
-- declared it VARCHAR because its CSV quoted the label; we decide the type once here and the
-- producer converts, so IFNULL(Class, -1) downstream stays an integer.
-- No key column is declared: the JSON value carries every column we need (User included),
-- and ksqlDB requires a declared key column in the projection of every CREATE ... AS SELECT.
-- A key-less source lets the training and live outputs (03, 04) carry no key at all, so the
-- raw user name never leaves KSQL through them; 05 re-keys by user where a key is needed.
CREATE STREAM creditcardfraud_source (
  Id BIGINT,
  Timestamp VARCHAR,
  User VARCHAR,
  Time INT,
  V1 DOUBLE,
  V2 DOUBLE,
  V3 DOUBLE,
  V4 DOUBLE,
  V5 DOUBLE,
  V6 DOUBLE,
  V7 DOUBLE,
  V8 DOUBLE,
  V9 DOUBLE,
  V10 DOUBLE,
  V11 DOUBLE,
  V12 DOUBLE,
  V13 DOUBLE,
  V14 DOUBLE,
  V15 DOUBLE,
  V16 DOUBLE,
  V17 DOUBLE,
  V18 DOUBLE,
  V19 DOUBLE,
  V20 DOUBLE,
  V21 DOUBLE,
  V22 DOUBLE,
  V23 DOUBLE,
  V24 DOUBLE,
  V25 DOUBLE,
  V26 DOUBLE,
  V27 DOUBLE,
  V28 DOUBLE,
  Amount DOUBLE,
  Class INT
) WITH (
  KAFKA_TOPIC = '${source_topic}',
  VALUE_FORMAT = 'JSON',
  PARTITIONS = ${source_partitions}
);
