-- 04 · Live data for scoring: every event, anonymized and augmented, in Avro.
--
-- Anonymization: MASK_LEFT(User, 2) masks the two leftmost characters ('Hans' -> 'Xxns';
--   ksqlDB's MASK_LEFT writes X for upper case, x for lower case, n for digits).
-- Augmentation:  IFNULL(Class, -1) marks events without a label with -1 (the label is unknown
--   at scoring time, as in production where labels arrive later).
-- The key column is not projected: the records carry no key, so the raw user name never
-- reaches the scorer. PARTITIONS sets how many scorer replicas can share the work.
-- Output value schema: ID, TIMESTAMP, USERID, TIME, V1..V28, AMOUNT, CLASS.
--
-- Variables: live_topic, live_partitions.
CREATE STREAM creditcardfraud_live_avro WITH (
  KAFKA_TOPIC = '${live_topic}',
  VALUE_FORMAT = 'AVRO',
  PARTITIONS = ${live_partitions}
) AS SELECT
  Id, Timestamp,
  MASK_LEFT(User, 2) AS USERID,
  Time,
  V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22, V23, V24, V25, V26, V27, V28,
  Amount,
  IFNULL(Class, -1) AS CLASS
FROM creditcardfraud_source
EMIT CHANGES;
