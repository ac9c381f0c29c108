// Command kfake runs franz-go's in-process Kafka cluster (kfake) on
// loopback for the conformance suite, so that the platform's own client
// (kafkajs) can talk to the agent without a JVM broker. It creates the
// agent's topics, prints the brokers' addresses on one line of stdout
// ("host:port,host:port,...") and serves until it gets SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/iot-hub/agent/contracts"
)

func main() {
	brokers := flag.Int("brokers", 1, "number of brokers")
	partitions := flag.Int("partitions", 3, "partitions of every topic but the commands topic")
	commandPartitions := flag.Int("command-partitions", 1, "partitions of "+contracts.TopicDeviceCommands)
	flag.Parse()
	if err := run(*brokers, int32(*partitions), int32(*commandPartitions)); err != nil {
		slog.Error("kfake", "err", err)
		os.Exit(1)
	}
}

// run starts the cluster, prints its addresses and waits for a signal.
func run(brokers int, partitions, commandPartitions int32) error {
	if brokers < 1 || partitions < 1 || commandPartitions < 1 {
		return fmt.Errorf("brokers, partitions and command-partitions must be at least 1; got %d, %d, %d",
			brokers, partitions, commandPartitions)
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(brokers),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.SeedTopics(commandPartitions, contracts.TopicDeviceCommands),
		kfake.SeedTopics(partitions,
			contracts.TopicDeviceResponses, contracts.TopicDeviceEvents, contracts.TopicDeviceTelemetry,
			contracts.TopicCertificateEvents, contracts.TopicUserEvents, contracts.TopicIntegrationEvents,
			contracts.TopicDLQ),
	)
	if err != nil {
		return err
	}
	defer cluster.Close()
	fmt.Println(strings.Join(cluster.ListenAddrs(), ","))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return nil
}
