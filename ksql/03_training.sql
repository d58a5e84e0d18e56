-- 03 · Training data: labelled events only, unneeded columns dropped, converted to Avro.
--
-- The trainer reads this topic. `WHERE Class IS NOT NULL` keeps the labelled events; the user
-- is not projected at all (training needs no identity), and the key column is left out so the
-- output records carry no key (no raw user name leaves KSQL through this topic).
-- Output value schema: ID, TIMESTAMP, TIME, V1..V28, AMOUNT, CLASS (Avro, registered under
-- <training_topic>-value).
--
-- Variables: training_topic.
CREATE STREAM creditcardfraud_preprocessed_avro WITH (
  KAFKA_TOPIC = '${training_topic}',
  VALUE_FORMAT = 'AVRO'
) AS SELECT
  Id, Timestamp, Time,
  V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22, V23, V24, V25, V26, V27, V28,
  Amount, Class
FROM creditcardfraud_source
WHERE Class IS NOT NULL
EMIT CHANGES;
