-- 05 · Per-user stream: events of users living in a 'Premium' city (the seed's join, fixed).
--
-- The seed joined a stream that did not exist (creditcardfraud_enahnced) on a CITY column its
-- USERS table lacked, and wrote into the training topic. Here:
--   a) creditcardfraud_enriched re-keys the source by user id (PARTITION BY) into
--      users_partitions partitions, so the stream side is co-partitioned with USERS. Its topic
--      (enriched_topic) is KSQL-INTERNAL: it holds the raw user id as key and value, and no
--      consumer outside KSQL may read it.
--   b) creditcardfraud_per_user joins it to USERS, keeps the seed's filter (V1 > per_user_min_v1,
--      default 5 as in the seed; V2 present; city LIKE 'Premium%') and re-keys the result by the
--      MASKED user (PARTITION BY MASK_LEFT(c.userid, 2)). ksqlDB requires the partitioning
--      expression in the projection (it becomes the key column USERID); with PARTITION BY the
--      join key itself need not be projected (ksqlDB's "partition by non-Key in join on Key"
--      case). So neither the key nor the value of per_user_topic carries a raw user id or name:
--      key = masked user, value = MASKED_USER (the same masked user, AS_VALUE), CITY, event.
--
-- Variables: enriched_topic, users_partitions, per_user_topic, per_user_min_v1.
CREATE STREAM creditcardfraud_enriched WITH (
  KAFKA_TOPIC = '${enriched_topic}',
  VALUE_FORMAT = 'JSON',
  PARTITIONS = ${users_partitions}
) AS SELECT
  User AS userid,
  Id, Timestamp, Time,
  V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22, V23, V24, V25, V26, V27, V28,
  Amount, Class
FROM creditcardfraud_source
PARTITION BY User
EMIT CHANGES;

CREATE STREAM creditcardfraud_per_user WITH (
  KAFKA_TOPIC = '${per_user_topic}',
  VALUE_FORMAT = 'AVRO'
) AS SELECT
  MASK_LEFT(c.userid, 2) AS USERID,
  AS_VALUE(MASK_LEFT(c.userid, 2)) AS MASKED_USER,
  u.city AS CITY,
  c.Id AS ID,
  c.Timestamp AS TIMESTAMP,
  c.Time AS TIME,
  c.V1 AS V1,
  c.V2 AS V2,
  c.V3 AS V3,
  c.V4 AS V4,
  c.V5 AS V5,
  c.V6 AS V6,
  c.V7 AS V7,
  c.V8 AS V8,
  c.V9 AS V9,
  c.V10 AS V10,
  c.V11 AS V11,
  c.V12 AS V12,
  c.V13 AS V13,
  c.V14 AS V14,
  c.V15 AS V15,
  c.V16 AS V16,
  c.V17 AS V17,
  c.V18 AS V18,
  c.V19 AS V19,
  c.V20 AS V20,
  c.V21 AS V21,
  c.V22 AS V22,
  c.V23 AS V23,
  c.V24 AS V24,
  c.V25 AS V25,
  c.V26 AS V26,
  c.V27 AS V27,
  c.V28 AS V28,
  c.Amount AS AMOUNT,
  c.Class AS CLASS
FROM creditcardfraud_enriched c
INNER JOIN USERS u ON c.userid = u.userid
WHERE c.V1 > ${per_user_min_v1} AND c.V2 IS NOT NULL AND u.city LIKE 'Premium%'
PARTITION BY MASK_LEFT(c.userid, 2)
EMIT CHANGES;
