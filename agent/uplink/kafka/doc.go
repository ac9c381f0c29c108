// Package kafka is the agent's Kafka uplink: it produces what the outbox
// hands out straight to Kafka, and passes the device's commands to a
// handler.
//
// An [Uplink] runs two franz-go clients. The producer is idempotent, with
// acks from all in-sync replicas, its batches compressed with
// Config.Compression (gzip by default, which every client reads); a
// record's topic is the configured name ([Topics]) of the contracts'
// topic of its eventType header (contracts.EventType.Topic), its key the
// device id (the record's own key, when it has one), and its headers
// eventType, correlationId and __version. The
// consumer reads, as the contracts' catalogue routes them, the commands
// topic (device.commands: device.command.rpc, certificate.command.rotate)
// and the certificates topic (certificate.events: certificate.issued),
// both with one client, so that one fetch request covers both, and
// without a consumer group: of each, by default only the partition the
// device id maps to under Kafka's default partitioner ([PartitionFor],
// murmur2), or kafkajs's legacy one ([LegacyPartitionFor]), so that one
// gateway does not read the whole fleet's; or, for producers that send
// without a key, every partition ([CommandsAll]). A record is the
// device's when its payload's deviceId is, whatever its key. Of the
// commands topic the others are skipped, and counted
// (Config.OnOtherDevice); of the certificates topic only the device's
// certificate.issued (by its eventType header, else its body's) is handed
// over: the fleet's CSRs and other rotation events, the device's own
// included, are skipped, neither counted nor logged. A [Command] is the
// uplink.Command the dispatcher takes, whose Topic says which topic the
// record came on, with the record's key, headers and place.
//
// # Basics
//
// The producer drains the outbox in rounds of up to Window records, each
// wholly buffered before it is sent: a record is acked in the outbox once
// Kafka acknowledged it, released for a retry when it failed, and
// quarantined when Kafka refuses it for good (too large, invalid), or
// when it cannot make a Kafka record (no known eventType, larger than a
// batch). Records of one key keep their order across retries: see
// producer.go for why rounds are needed for that.
//
// The offset of the records read is kept in the outbox (a cursor per topic
// and partition), and moves past a record handed over only once its handler
// called its Ack (uplink.Command.Ack), that is once its answer is in the
// outbox. A gateway started for the first time reads from the partition's
// end, storing that as its cursor at once: it does not replay the fleet's
// history. A gateway that restarts reads on from its cursor. So a rotation
// under way across a restart does not miss its certificate: a
// certificate.issued sent while the agent was stopped, or before it handled
// it, comes after the stored cursor and is read on the next start. (A
// gateway that gains the certificates topic by an upgrade starts it at its
// end; the rotation sends its CSR again, and the answer to that one is
// read.)
//
// The uplink queues a device.status.changed through the outbox: online
// ("started") when Run starts, offline ("stopped") when it stops, both
// with the new connection number of that run (package status).
// [Uplink.State] reports the connection as an uplink.State.
//
// The client certificate is Config.TLS's, read at start: a rotation sets
// its GetClientCertificate, and [Uplink.Probe] tries a new certificate on
// a connection of its own before the rotation makes it current; the
// uplink's clients present it when they next connect.
//
// [Settings] are the keys of the agent's configuration file's
// uplink.kafka section, with their defaults and checks; they name the
// TLS files, which [Settings.Config] reads into a Config.
//
// # Caveats
//
//   - Delivery is at-least-once: a record Kafka may have written without
//     the uplink learning it (in flight when the uplink stops, or timed
//     out and then refused on its retry) is produced again; consumers
//     de-duplicate by correlationId. franz-go's own retries, unlimited,
//     do not duplicate: the producer is idempotent.
//   - After a leader change or a broker restart, producing resumes once
//     franz-go refreshed its metadata, which it does at most every 5 s.
//   - A record the brokers refuse for good fails the other records of its
//     partition with it: those are produced again one per round trip, to
//     tell which to quarantine.
//   - Kafka has no Last Will: a gateway that dies without stopping leaves
//     its status online until it runs again, when its online of a higher
//     connection number comes.
//   - Commands are at-least-once too: the cursor is stored at most once a
//     second, and a command acknowledged after the last store is read
//     again after a crash. The RPC dispatcher answers it again from its
//     memo without running it; the rotation ignores a certificate.issued
//     it has installed already.
//   - A command never acknowledged holds the cursor back: at most 256 wait
//     for their Ack, then reading stops until some are acknowledged.
//   - When a topic read gains partitions, the device's key maps to
//     another partition: the uplink notices within 5 minutes and reads
//     that one too (with CommandsAll, the new ones), from its start.
//   - The commands topic must exist for the uplink to read anything. The
//     certificates topic need not: while it cannot be read, commands are
//     read and it is looked for again with a backoff (up to 15 s); once
//     it can, it is read from its start, as all it holds came since.
//     (A topic that could not be read at the start for another reason
//     is read from its start too: stale certificate.issued records are
//     handed over, and the rotation ignores those of no CSR it awaits.)
//   - With CommandsAll, a partition without a cursor (a gateway that read
//     only its own before) is read from its end: records already there
//     are not handed over.
//   - With CommandsOwn, a command or certificate.issued on another
//     partition (sent without a key, or placed by another partitioner)
//     never reaches the device; the gateway reading that partition counts
//     a command as another device's. A command for the device on its
//     partition but keyed otherwise is answered, and the log hints (once
//     every 30 s) to key commands by device id or to read all partitions.
//   - Fetching the device's partition of the certificates topic costs the
//     certificate events of the devices sharing it: a few per device per
//     rotation.
//   - Stopping (Run's context ending) waits up to ConnectTimeout for the
//     records in flight and the offline status, then closes the clients;
//     what was not acknowledged is released, sent on the next start.
//   - Of an outbox record, Topic (the MQTT uplink's) and Retain are
//     ignored: the topic comes from the eventType header, or from the
//     payload's envelope when the record has none; headers of the MQTT
//     transport (mqtt.*) are not sent. Expiry only drops a record the
//     outbox did not hand out in time; Kafka is not told of it.
//   - The drain is CPU-bound: reading and deleting records from the
//     outbox costs about as much as producing them uncompressed, gzip a
//     fourth more (see BenchmarkKafkaDrain).
package kafka
