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
import java.util.stream.Stream;

/** The real broker executable (broker/bin/tributary-broker, built by `npx tsc -b`) on a free loopback port. */
final class BrokerProcess implements AutoCloseable {
    static final Path REPO = Path.of(System.getProperty("tributary.repo", "../../..")).toAbsolutePath().normalize();

    final int port;
    final String bootstrap;
    final Path dataDir;
    private final Path logFile;
    private final Map<String, String> overrides = new LinkedHashMap<>();
    private Process process;

    private BrokerProcess(Map<String, String> extra) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        bootstrap = "127.0.0.1:" + port;
        dataDir = Files.createTempDirectory("tributary-compat-java-");
        logFile = dataDir.resolve("broker.log");
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

    String output() {
        try {
            return Files.readString(logFile);
        } catch (IOException e) {
            return "";
        }
    }

    /** SIGTERM (clean shutdown) or SIGKILL (crash); waits for the exit and returns the exit code. */
    int stop(boolean kill) throws InterruptedException {
        if (kill) process.destroyForcibly();
        else process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) throw new IllegalStateException("broker did not stop");
        return process.exitValue();
    }

    /** Keeps the broker's log under e2e/artifacts/compat when asked (a failed test), then deletes the data dir. */
    void close(boolean keepLog) throws IOException, InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        if (keepLog) {
            Path out = REPO.resolve("e2e/artifacts/compat");
            Files.createDirectories(out);
            Files.copy(logFile, out.resolve("broker-java-" + port + ".log"), StandardCopyOption.REPLACE_EXISTING);
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
