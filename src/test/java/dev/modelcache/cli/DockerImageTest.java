package dev.modelcache.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.modelcache.cli.Dockerfile.Instruction;
import dev.modelcache.cli.Dockerfile.Stage;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code docker/Dockerfile} builds, checked without a Docker engine: the stages, the user, the
 * volume, the health check, the build context, the CUDA natives, and the final stage's file layout
 * laid out in a temp folder and run, entry point and health check included. {@code
 * scripts/compose-e2e.sh} builds and runs the real image where a Docker engine runs (.ci/run).
 */
class DockerImageTest {
  static final Path DOCKERFILE = Path.of("docker/Dockerfile");
  static final Dockerfile IMAGE = Dockerfile.read(DOCKERFILE);

  @TempDir Path tmp;

  @Test
  void buildsTheJarInAMavenStageOrTakesItFromTheContextAndRunsItOnAJlinkRuntime()
      throws IOException {
    Stage build = IMAGE.stage("jar-build");
    assertThat(build.from()).isEqualTo("${BUILD_IMAGE}");
    assertThat(globalArg("BUILD_IMAGE")).startsWith("maven:3.9-eclipse-temurin-17");
    // The README's build command, so the image holds the jar the tests ran against; only the
    // natives of the image's platform.
    assertThat(build.last("RUN").orElseThrow().args())
        .endsWith("mvn -B -q -Pquick,\"${PLATFORM}\" package");
    assertThat(args(build)).containsEntry("PLATFORM", "linux-x86_64");
    assertThat(Files.readString(Path.of("pom.xml")))
        .contains("<id>linux-x86_64</id>", "<id>linux-aarch64</id>");
    // JAR=context: the jar built on the host, for builders that cannot reach Maven Central.
    Stage context = IMAGE.stage("jar-context");
    assertThat(context.from()).isEqualTo("scratch");
    assertThat(copies(context))
        .singleElement()
        .satisfies(
            copy ->
                assertThat(copy.words())
                    .containsExactly("target/modelcache.jar", "/src/target/modelcache.jar"));
    assertThat(IMAGE.stage("jar").from()).isEqualTo("jar-${JAR}");
    assertThat(globalArg("JAR")).isEqualTo("build");
    // The Java runtime is jlinked in JDK_IMAGE and copied onto BASE_IMAGE (the OS with curl).
    Stage jre = IMAGE.stage("jre");
    assertThat(jre.from()).isEqualTo("${JDK_IMAGE}");
    assertThat(globalArg("JDK_IMAGE")).startsWith("eclipse-temurin:17-jdk");
    assertThat(jre.last("RUN").orElseThrow().args()).contains("--add-modules", "--strip-debug");
    assertThat(IMAGE.stage("base-cpu").from()).isEqualTo("${BASE_IMAGE}");
    assertThat(copies(IMAGE.stage("base-cpu")))
        .anySatisfy(copy -> assertThat(copy.flags()).containsEntry("from", "jre"));
    assertThat(IMAGE.last().from()).isEqualTo("base-${FLAVOR}");
    assertThat(globalArg("FLAVOR")).isEqualTo("cpu");
    // The natives are unpacked in a stage of their own and dropped from the jar there, so that
    // the image holds one copy of them (a later layer cannot shrink an earlier one).
    Stage natives = IMAGE.stage("natives");
    assertThat(copies(natives))
        .anySatisfy(
            copy -> {
              assertThat(copy.flags()).containsEntry("from", "jar");
              assertThat(copy.words()).first().isEqualTo("/src/target/modelcache.jar");
            });
    assertThat(natives.last("RUN").orElseThrow().args())
        .contains("modelcache engine --prune-jar /opt/modelcache/modelcache.jar");
    // Then stripped of their symbols (binutils' strip, in JDK_IMAGE).
    Stage stripped = IMAGE.stage("natives-stripped");
    assertThat(stripped.last("RUN").orElseThrow().args()).contains("strip --strip-unneeded");
    assertThat(copies(IMAGE.last()))
        .filteredOn(copy -> String.valueOf(copy.flags().get("from")).startsWith("natives"))
        .extracting(copy -> copy.flags().get("from") + ":" + copy.words().get(0))
        .containsExactlyInAnyOrder(
            "natives-stripped:/opt/modelcache/djl", "natives:/opt/modelcache/modelcache.jar");
    assertThat(Files.readString(Path.of("pom.xml"))).contains("<finalName>modelcache</finalName>");
    // A '# syntax=' line would pull a frontend image from Docker Hub at every build.
    assertThat(Files.readAllLines(DOCKERFILE)).noneMatch(line -> line.startsWith("# syntax="));
  }

  @Test
  void runsAsANonRootUserWithTheModelsVolumeAndAHealthCheckOnReadiness() throws IOException {
    Stage image = IMAGE.last();
    String user = image.last("USER").orElseThrow().args().split(":")[0];
    assertThat(user).isNotIn("root", "0");
    assertThat(image.last("VOLUME").orElseThrow().words()).containsExactly("/models");
    assertThat(image.last("EXPOSE").orElseThrow().args()).isEqualTo("8080");
    assertThat(image.env()).containsEntry("MODELCACHE_CACHE_DIR", "/models");
    Instruction healthcheck = image.last("HEALTHCHECK").orElseThrow();
    assertThat(healthcheck.flags()).containsKeys("interval", "timeout", "start-period", "retries");
    assertThat(healthcheck.args()).contains("CMD [\"/opt/modelcache/bin/healthcheck\"]");
    assertThat(Files.readString(Path.of("docker/healthcheck"))).contains("/health/ready");
    assertThat(image.last("ENTRYPOINT").orElseThrow().words())
        .containsExactly("/opt/modelcache/bin/modelcache");
    // Container-aware heap and no download by DJL, whatever the command.
    assertThat(Files.readString(Path.of("docker/modelcache")))
        .contains("-XX:MaxRAMPercentage=", "-Dai.djl.offline=true", "${MODELCACHE_OPTS:-}")
        // what stays resident after a load run (performance.md, "Resident memory after load")
        .contains("-XX:+UseSerialGC -Xms32m", "-XX:TrimNativeHeapInterval=5000")
        // what it writes to the volume is group-writable, for any uid of group 0 (OpenShift)
        .contains("umask 0002");
    // The natives are unpacked at build time, readable by any user id.
    assertThat(image.all("RUN"))
        .anySatisfy(run -> assertThat(run.args()).contains("modelcache engine"));
    // Class-data sharing: a serve at build time records the archive that the launcher maps.
    assertThat(image.all("RUN"))
        .anySatisfy(
            run ->
                assertThat(run.args())
                    .contains("-XX:ArchiveClassesAtExit=/opt/modelcache/modelcache.jsa")
                    .contains("modelcache serve"));
    assertThat(Files.readString(Path.of("docker/modelcache")))
        .contains("-XX:SharedArchiveFile=$home/modelcache.jsa", "-Xlog:all=warning:stderr");
  }

  @Test
  void everyFileItCopiesIsInTheBuildContext() throws IOException {
    List<String> ignore = Files.readAllLines(Path.of(".dockerignore"));
    List<String> copied = new ArrayList<>();
    for (Stage stage : IMAGE.stages()) {
      for (Instruction copy : copies(stage)) {
        if (copy.flags().containsKey("from")) {
          continue;
        }
        List<String> words = copy.words();
        for (String source : words.subList(0, words.size() - 1)) {
          if (!source.startsWith("target/")) { // built on the host before a JAR=context build
            assertThat(Path.of(source)).as("line %d: COPY %s", copy.line(), source).exists();
          }
          assertThat(excluded(ignore, source))
              .as("line %d: %s is excluded by .dockerignore", copy.line(), source)
              .isFalse();
          copied.add(source);
        }
      }
    }
    assertThat(copied).contains("pom.xml", "src/main", "docker/modelcache", "docker/healthcheck");
    // What the image does not need stays out of the context.
    assertThat(excluded(ignore, "target/modelcache.jar")).isFalse();
    assertThat(excluded(ignore, "target/classes/x")).isTrue();
    assertThat(excluded(ignore, "data/hub/x")).isTrue();
    assertThat(excluded(ignore, ".git/HEAD")).isTrue();
    assertThat(excluded(ignore, "src/test/java/X.java")).isTrue();
    assertThat(excluded(ignore, "src/main/java/dev/modelcache/cli/Main.java")).isFalse();
  }

  @Test
  void theCudaFlavorAddsTheCu128NativesOfThePinnedPyTorch() throws IOException {
    Stage natives = IMAGE.stage("cuda-natives");
    Map<String, String> args = args(natives);
    String pom = Files.readString(Path.of("pom.xml"));
    assertThat(pom)
        .contains(
            "<pytorch.native.version>" + args.get("PYTORCH_VERSION") + "</pytorch.native.version>");
    String flavor = args.get("CUDA_FLAVOR");
    // The JNI glue for that flavour ships in the pytorch-jni jar on our classpath; DJL unpacks it
    // beside the libtorch natives the stage downloads.
    assertThat(getClass().getResource("/jnilib/linux-x86_64/" + flavor + "/libdjl_torch.so"))
        .as("pytorch-jni has a %s JNI library", flavor)
        .isNotNull();
    Stage cuda = IMAGE.stage("base-cuda");
    assertThat(cuda.from()).isEqualTo("${CUDA_IMAGE}");
    assertThat(globalArg("CUDA_IMAGE")).startsWith("nvidia/cuda:12.8").contains("cudnn-runtime");
    assertThat(cuda.env())
        .containsEntry("PYTORCH_FLAVOR", flavor)
        .containsEntry("PYTORCH_LIBRARY_PATH", "/opt/libtorch");
    assertThat(copies(cuda))
        .anySatisfy(c -> assertThat(c.words()).containsExactly("/opt/libtorch", "/opt/libtorch"));
    assertThat(natives.last("RUN").orElseThrow().args())
        .contains("${CUDA_FLAVOR}/linux-x86_64/native/lib/", "libtorch_cuda.so");
  }

  @Test
  void everyShellCommandPassesShellcheck() throws Exception {
    assumeTrue(
        onPath("shellcheck"),
        "shellcheck is not on the PATH (Debian: apt-get install shellcheck; .ci/run installs it)");
    List<Path> scripts =
        new ArrayList<>(
            List.of(
                Path.of("docker/modelcache"),
                Path.of("docker/healthcheck"),
                Path.of("docker/base-images.sh"),
                Path.of("scripts/compose-e2e.sh"),
                Path.of(".ci/run")));
    for (Stage stage : IMAGE.stages()) {
      String shell =
          stage.last("SHELL").map(s -> s.words().get(0).replace("/bin/", "")).orElse("sh");
      for (Instruction run : stage.all("RUN")) {
        if (run.args().startsWith("[")) {
          continue;
        }
        Path script = tmp.resolve("line-" + run.line() + ".sh");
        Files.writeString(script, "#!/bin/" + shell + "\n" + run.command() + "\n");
        scripts.add(script);
      }
    }
    List<String> command = new ArrayList<>(List.of("shellcheck", "--severity=warning"));
    scripts.forEach(s -> command.add(s.toString()));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }

  /**
   * The final stage's COPY, ENV and WORKDIR applied to a temp folder standing for the image's root,
   * then its entry point run: the demo models the image bundles are fetched and served by the
   * embedded default, and the health check script answers 0 only when the daemon is ready.
   */
  @Test
  void theImageLayoutFetchesAndServesTheDemoModelsAndItsHealthCheckTellsReadiness()
      throws Exception {
    assumeTrue(onPath("curl"), "curl is not on the PATH; the image's health check uses it");
    Path root = tmp.resolve("root");
    Stage image = IMAGE.last();
    for (Instruction copy : copies(image)) {
      List<String> words = copy.words();
      String target = words.get(words.size() - 1);
      for (String source : words.subList(0, words.size() - 1)) {
        if (source.equals("/opt/modelcache/djl")) {
          continue; // the natives: here the test JVM's own DJL cache
        }
        Path from =
            source.endsWith("/modelcache.jar") && copy.flags().containsKey("from")
                ? launcherJar()
                : Path.of(source);
        Path to =
            target.endsWith("/")
                ? inside(root, target).resolve(from.getFileName().toString())
                : inside(root, target);
        copyTree(from, to);
      }
    }
    Map<String, String> env = new LinkedHashMap<>();
    image
        .env()
        .forEach(
            (name, value) -> {
              if (name.startsWith("MODELCACHE_") || name.startsWith("HF_")) {
                env.put(name, value.startsWith("/") ? inside(root, value).toString() : value);
              }
            });
    Path workdir = inside(root, image.last("WORKDIR").orElseThrow().args());
    Path entrypoint = inside(root, image.last("ENTRYPOINT").orElseThrow().words().get(0));
    Path healthcheck = inside(root, "/opt/modelcache/bin/healthcheck");
    assertThat(entrypoint).isExecutable();
    assertThat(healthcheck).isExecutable();

    ProcessBuilder fetch = process(workdir, env, entrypoint.toString(), "fetch");
    Process fetched = fetch.redirectErrorStream(true).start();
    String fetchOutput =
        new String(fetched.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(fetched.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(fetched.exitValue()).as(fetchOutput).isZero();
    assertThat(inside(root, "/models/local/iris")).isDirectory();

    int port = freePort();
    env.put("MODELCACHE_PORT", String.valueOf(port));
    assertThat(run(process(workdir, env, healthcheck.toString())))
        .as("nothing listens yet")
        .isEqualTo(1);
    try (ChildDaemon daemon =
        ChildDaemon.start(process(workdir, env, entrypoint.toString(), "serve"))) {
      assertThat(daemon.awaitReady(Duration.ofSeconds(120))).isEqualTo(port);
      assertThat(run(process(workdir, env, healthcheck.toString()))).isZero();
      Map<String, String> elsewhere = new LinkedHashMap<>(env);
      elsewhere.put("MODELCACHE_SERVER_PORT", String.valueOf(freePort()));
      assertThat(run(process(workdir, elsewhere, healthcheck.toString())))
          .as("MODELCACHE_SERVER_PORT wins over MODELCACHE_PORT, as in the config loader")
          .isEqualTo(1);
    }
  }

  static String globalArg(String name) {
    return args(IMAGE.globalArgs()).get(name);
  }

  private static Map<String, String> args(Stage stage) {
    return args(stage.instructions());
  }

  private static Map<String, String> args(List<Instruction> instructions) {
    Map<String, String> args = new LinkedHashMap<>();
    for (Instruction arg : instructions) {
      if (arg.keyword().equals("ARG")) {
        String[] parts = arg.args().split("=", 2);
        args.put(parts[0], parts.length > 1 ? parts[1] : null);
      }
    }
    return args;
  }

  private static List<Instruction> copies(Stage stage) {
    return stage.all("COPY");
  }

  /** .dockerignore as Docker reads it: patterns in order, the last one matching wins. */
  static boolean excluded(List<String> patterns, String path) {
    boolean excluded = false;
    for (String line : patterns) {
      String pattern = line.strip();
      if (pattern.isEmpty() || pattern.startsWith("#")) {
        continue;
      }
      boolean negated = pattern.startsWith("!");
      if (negated) {
        pattern = pattern.substring(1);
      }
      PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
      // A pattern that matches a folder also matches everything in it.
      for (Path p = Path.of(path); p != null; p = p.getParent()) {
        if (matcher.matches(p)) {
          excluded = !negated;
          break;
        }
      }
    }
    return excluded;
  }

  /**
   * A jar that runs {@code dev.modelcache.cli.Main} on the test classpath, standing for the fat
   * jar.
   */
  private Path launcherJar() throws IOException {
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "dev.modelcache.cli.Main");
    StringBuilder classPath = new StringBuilder();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      classPath.append(Path.of(entry).toAbsolutePath().toUri()).append(' ');
    }
    manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, classPath.toString().strip());
    Path jar = tmp.resolve("modelcache.jar");
    try (OutputStream out = Files.newOutputStream(jar)) {
      new JarOutputStream(out, manifest).close(); // the manifest is the whole jar
    }
    return jar;
  }

  private static Path inside(Path root, String absolute) {
    return root.resolve(absolute.replaceFirst("^/+", ""));
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(target);
        } else {
          Files.createDirectories(target.getParent());
          Files.copy(file, target);
          target.toFile().setExecutable(Files.isExecutable(file));
        }
      }
    }
  }

  private static ProcessBuilder process(Path workdir, Map<String, String> env, String... command) {
    ProcessBuilder builder = new ProcessBuilder(command).directory(workdir.toFile());
    builder.environment().keySet().removeIf(name -> name.startsWith("MODELCACHE_"));
    builder.environment().putAll(env);
    // The image's java is the one on the PATH; here it is the JVM running the tests.
    String javaBin = Path.of(System.getProperty("java.home"), "bin").toString();
    builder.environment().put("PATH", javaBin + File.pathSeparator + System.getenv("PATH"));
    if (Runtime.version().feature() >= 22) {
      builder.environment().put("MODELCACHE_OPTS", "--enable-native-access=ALL-UNNAMED");
    }
    return builder;
  }

  private static int run(ProcessBuilder builder) throws Exception {
    Process process =
        builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return process.exitValue();
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  static boolean onPath(String program) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }
}
