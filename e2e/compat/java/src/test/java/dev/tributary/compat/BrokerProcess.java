package dev.tributary.compat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The real broker executable (broker/bin/tributary-broker, built by `npx tsc -b`) on a free loopback port; or, from
 * {@link #startShared}, a cluster of such nodes started by the multi-process harness
 * (broker/test/support/cluster-cli.ts) when the system property tributary.nodes is above 1 (docs/compat.md).
 */
final class BrokerProcess implements AutoCloseable {
    static final Path REPO = Path.of(System.getProperty("tributary.repo", "../../..")).toAbsolutePath().normalize();
    /** How many nodes the shared broker of a test class is (the tributary.nodes system property, 1 unless set). */
    static final int NODES = Integer.parseInt(System.getProperty("tributary.nodes", "1"));
    /**
     * The replication factor of the suites' topics on a cluster (the tributary.rf system property, 1 unless set): the
     * cluster's default.replication.factor and offsets.topic.replication.factor, min.insync.replicas 2 above 1.
     */
    static final short RF = Short.parseShort(System.getProperty("tributary.rf", "1"));
    /** What a cluster runs: tributary, or kafka (the reference Apache Kafka, to compare a client's behaviour). */
    static final String SYSTEM = System.getProperty("tributary.system", "tributary");

    /** The first node's client port. */
    final int port;
    /** Every node's client listener, as clients are given it. */
    final String bootstrap;
    final Path dataDir;
    /** Node id to its client address, every node of a cluster (one entry for a single broker). */
    final Map<Integer, String> nodes = new LinkedHashMap<>();
    private final List<Path> logDirs = new ArrayList<>();
    private final List<Path> logFiles = new ArrayList<>();
    private final Path logFile;
    private final Map<String, String> overrides = new LinkedHashMap<>();
    private Process process;
    /** The harness script of a cluster; the nodes live while its stdin stays open. */
    private final boolean cluster;
    /** The harness script's answers (one JSON line per command). */
    private java.io.BufferedReader answers;

    private BrokerProcess(Map<String, String> extra) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        bootstrap = "127.0.0.1:" + port;
        dataDir = Files.createTempDirectory("tributary-compat-java-");
        logFile = dataDir.resolve("broker.log");
        cluster = false;
        nodes.put(1, bootstrap);
        logDirs.add(dataDir.resolve("logs"));
        logFiles.add(logFile);
        overrides.put("node.id", "1");
        overrides.put("process.roles", "broker,controller");
        overrides.put("listeners", "PLAINTEXT://" + bootstrap);
        overrides.put("advertised.listeners", "PLAINTEXT://" + bootstrap);
        overrides.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT");
        overrides.put("log.dirs", dataDir.resolve("logs").toString());
        overrides.put("num.partitions", "1");
        overrides.put("offsets.topic.replication.factor", "1");
        overrides.put("group.initial.rebalance.delay.ms", "0");
        overrides.put("metrics.port", "-1");
        overrides.put("log.retention.check.interval.ms", "200");
        overrides.putAll(extra);
    }

    private static final Pattern NODE = Pattern.compile(
            "\\{\"id\":(\\d+),\"port\":(\\d+),\"controllerPort\":\\d+,\"dir\":\"[^\"]*\",\"logDirs\":\"([^\"]*)\",\"log\":\"([^\"]*)\"\\}");
    private static final Pattern BOOTSTRAP = Pattern.compile("\"bootstrap\":\"([^\"]*)\"");

    /** A cluster of `count` combined nodes from cluster-cli.ts, which prints them as one JSON line once they are one. */
    private BrokerProcess(int count, Map<String, String> extra) throws IOException {
        cluster = true;
        dataDir = Files.createTempDirectory("tributary-compat-java-cluster-");
        logFile = dataDir.resolve("cluster-cli.log");
        List<String> command = new ArrayList<>(List.of(
                REPO.resolve("node_modules/.bin/tsx").toString(),
                REPO.resolve("broker/test/support/cluster-cli.ts").toString(),
                "--nodes",
                String.valueOf(count),
                "--rf",
                String.valueOf(RF),
                "--system",
                SYSTEM));
        Map<String, String> config = new LinkedHashMap<>(Map.of("log.retention.check.interval.ms", "200"));
        config.putAll(extra);
        config.forEach((k, v) -> {
            command.add("--config");
            command.add(k + "=" + v);
        });
        process = new ProcessBuilder(command)
                .directory(REPO.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        // The script has its own deadlines (each node's start, then every broker listing the others) and exits on them.
        answers = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream()));
        String line = answers.readLine();
        if (line == null) throw new IllegalStateException("cluster-cli.ts exited without a cluster:\n" + output());
        Matcher b = BOOTSTRAP.matcher(line);
        if (!b.find()) throw new IllegalStateException("cluster-cli.ts printed no bootstrap: " + line);
        bootstrap = b.group(1);
        Matcher m = NODE.matcher(line);
        while (m.find()) {
            nodes.put(Integer.parseInt(m.group(1)), "127.0.0.1:" + m.group(2));
            logDirs.add(Path.of(m.group(3)));
            logFiles.add(Path.of(m.group(4)));
        }
        if (nodes.size() != count) throw new IllegalStateException("cluster-cli.ts printed " + nodes.size() + " nodes: " + line);
        port = Integer.parseInt(nodes.values().iterator().next().split(":")[1]);
    }

    /**
     * The broker a test class shares: one process, or a cluster of {@link #NODES} combined nodes. On one node, tests
     * that stop and restart the broker use one of their own ({@link #start}).
     */
    static BrokerProcess startShared(Map<String, String> extra) throws IOException {
        if (NODES <= 1) return start(extra);
        BrokerProcess c = null;
        try {
            c = new BrokerProcess(NODES, extra);
            return c;
        } catch (RuntimeException | IOException e) {
            if (c != null) {
                try {
                    c.close(true);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
            throw e;
        }
    }

    /** One harness command (cluster-cli.ts lists them); returns its answer, a JSON line, and fails on an error. */
    private String command(String line) throws IOException {
        var in = process.getOutputStream();
        in.write((line + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        in.flush();
        String answer = answers.readLine();
        if (answer == null || !answer.contains("\"ok\":true")) {
            throw new AssertionError("cluster-cli.ts " + line + ": " + answer + "\n" + output());
        }
        return answer;
    }

    private static final Pattern LEADER = Pattern.compile("\"leader\":(\\d+)");
    private static final Pattern CODE = Pattern.compile("\"code\":(\\d+|null)");

    /**
     * Waits until every broker lists a new topic with its partitions and their leaders (cluster-cli.ts's `topic`
     * command). A cluster's brokers learn of a topic when each applies the controller's records, as in Kafka, so right
     * after CreateTopics some may not know it yet; one broker knows it at once.
     */
    void awaitTopic(String topic, int partitions) throws IOException {
        if (cluster) command("topic " + topic + " " + partitions);
    }

    /** The node leading a partition (the only one, for a single broker). */
    int leader(String topic, int partition) throws IOException {
        if (!cluster) return 1;
        Matcher m = LEADER.matcher(command("leader " + topic + " " + partition));
        if (!m.find()) throw new IllegalStateException("cluster-cli.ts named no leader");
        return Integer.parseInt(m.group(1));
    }

    /**
     * Stops the broker leading the partition with SIGKILL (kill) or SIGTERM, starts it again on the same ports and
     * data, and returns its exit code (null when a signal ended it). On a cluster the other nodes keep running, and the
     * harness answers once every broker lists all of them again.
     */
    Integer restartLeaderOf(String topic, int partition, boolean kill) throws IOException, InterruptedException {
        if (!cluster) {
            int code = stop(kill);
            launch();
            return code;
        }
        int victim = leader(topic, partition);
        Matcher m = CODE.matcher(command("stop " + victim + (kill ? " SIGKILL" : " SIGTERM")));
        if (!m.find()) throw new IllegalStateException("cluster-cli.ts gave no exit code");
        command("start " + victim);
        return m.group(1).equals("null") ? null : Integer.valueOf(m.group(1));
    }

    /** The directory of one partition's segments on the node leading it. */
    Path partitionDir(String topic, int partition) throws IOException {
        int leader = leader(topic, partition);
        int i = new ArrayList<>(nodes.keySet()).indexOf(leader);
        if (i < 0) throw new AssertionError("leader " + leader + " of " + topic + "-" + partition + " is not a node");
        Path dir = logDirs.get(i).resolve(topic + "-" + partition);
        if (!Files.isDirectory(dir)) throw new AssertionError(topic + "-" + partition + " is not on its leader: " + dir);
        return dir;
    }

    static BrokerProcess start(Map<String, String> extra) throws IOException {
        BrokerProcess broker = new BrokerProcess(extra);
        try {
            broker.launch();
        } catch (RuntimeException | IOException e) {
            try {
                broker.close(true);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
            throw e;
        }
        return broker;
    }

    void launch() throws IOException {
        if (cluster) throw new IllegalStateException("a cluster's nodes are started by cluster-cli.ts");
        if (!Files.exists(REPO.resolve("broker/dist/src/main.js"))) {
            throw new IllegalStateException("broker/dist is missing under " + REPO + ": run `npx tsc -b` first");
        }
        Path config = dataDir.resolve("server.properties");
        Files.writeString(config, "# every key is given as an --override\n");
        List<String> command = new ArrayList<>(List.of("node", REPO.resolve("broker/bin/tributary-broker").toString()));
        command.add("--config");
        command.add(config.toString());
        overrides.forEach((k, v) -> {
            command.add("--override");
            command.add(k + "=" + v);
        });
        process = new ProcessBuilder(command)
                .directory(dataDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        pollUntil("broker on port " + port, Duration.ofSeconds(30), () -> {
            if (!process.isAlive()) {
                throw new IllegalStateException("broker exited with " + process.exitValue() + ":\n" + output());
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
                return true;
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** What the broker printed; for a cluster, the harness's own output and each node's last lines. */
    String output() {
        StringBuilder out = new StringBuilder(read(logFile));
        if (cluster) {
            for (Path f : logFiles) {
                String text = read(f);
                out.append("\n--- ").append(f).append(" ---\n").append(text.substring(Math.max(0, text.length() - 4000)));
            }
        }
        return out.toString();
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            return ""; // not written yet, or deleted with its cluster
        }
    }

    /** SIGTERM (clean shutdown) or SIGKILL (crash); waits for the exit and returns the exit code. */
    int stop(boolean kill) throws InterruptedException {
        if (cluster) throw new IllegalStateException("a cluster's nodes are not stopped one by one here");
        if (kill) process.destroyForcibly();
        else process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) throw new IllegalStateException("broker did not stop");
        return process.exitValue();
    }

    /** Keeps the broker's log under e2e/artifacts/compat when asked (a failed test), then deletes the data dir. */
    void close(boolean keepLog) throws IOException, InterruptedException {
        // Copied before a cluster goes: the harness deletes its nodes' directories.
        if (keepLog) {
            Path out = REPO.resolve("e2e/artifacts/compat");
            Files.createDirectories(out);
            if (Files.exists(logFile)) {
                Files.copy(logFile, out.resolve("broker-java-" + port + ".log"), StandardCopyOption.REPLACE_EXISTING);
            }
            if (cluster) {
                int i = 0;
                for (int id : nodes.keySet()) {
                    Path f = logFiles.get(i++);
                    if (Files.exists(f)) {
                        Files.copy(f, out.resolve("cluster-java-" + port + "-node-" + id + ".log"),
                                StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
        if (process != null && process.isAlive()) {
            if (cluster) {
                process.getOutputStream().close(); // the harness stops the nodes when its stdin closes
                if (!process.waitFor(60, TimeUnit.SECONDS)) process.destroyForcibly();
            } else {
                process.destroyForcibly();
            }
            process.waitFor(30, TimeUnit.SECONDS);
        }
        try (Stream<Path> files = Files.walk(dataDir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        close(false);
    }

    /** Calls check until it returns true; fails after the deadline. Checks that poll a client block on their own. */
    static void pollUntil(String what, Duration timeout, BooleanSupplier check) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!check.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
