package dev.modelcache.source.hub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.modelcache.source.hub.FakeHub.Fault;
import dev.modelcache.source.hub.FakeHub.Recorded;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.Headers;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fake Hub's raw protocol, seen by a client that follows no redirect. */
class FakeHubTest {
  private static final byte[] WEIGHTS = randomBytes(300_000, 7);
  private static final byte[] CONFIG = "{\"model_type\": \"bert\"}\n".getBytes(UTF_8);
  private static final byte[] NOTES = "notes\n".getBytes(UTF_8);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  private FakeHub hub;
  private OkHttpClient http;
  private String main;

  @BeforeEach
  void start() throws IOException {
    hub = FakeHub.start();
    http = new OkHttpClient.Builder().followRedirects(false).build();
    main =
        hub.repo("org/name")
            .file("model.safetensors", WEIGHTS, true)
            .file("config.json", CONFIG, false)
            .file("sub/notes.txt", NOTES, false)
            .commit();
  }

  @AfterEach
  void stop() {
    hub.close();
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  @Test
  void resolvesBranchesTagsPullRequestsAndCommits() throws Exception {
    String pr =
        hub.repo("org/name")
            .file("extra.bin", new byte[] {1, 2, 3}, true)
            .commit("refs/pr/1", "v2");

    JsonNode info = get(api("/api/models/org/name/revision/main")).json();
    assertThat(info.get("id").asText()).isEqualTo("org/name");
    assertThat(info.get("sha").asText()).isEqualTo(main).matches("[0-9a-f]{40}");
    assertThat(info.get("siblings").findValuesAsText("rfilename"))
        .containsExactly("config.json", "model.safetensors", "sub/notes.txt");
    assertThat(sha(api("/api/models/org/name/revision/v2"))).isEqualTo(pr);
    assertThat(sha(api("/api/models/org/name/revision/refs%2Fpr%2F1"))).isEqualTo(pr);
    assertThat(sha(api("/api/models/org/name/revision/refs/pr/1"))).isEqualTo(pr);
    assertThat(sha(api("/api/models/org/name/revision/" + main))).isEqualTo(main);
    assertThat(sha(api("/api/models/org/name"))).isEqualTo(main);
    assertThat(
            get(api("/api/models/org/name/revision/" + pr))
                .json()
                .get("siblings")
                .findValuesAsText("rfilename"))
        .containsExactly("config.json", "extra.bin", "model.safetensors", "sub/notes.txt");
    assertThat(head(api("/org/name/resolve/refs%2Fpr%2F1/extra.bin")).header("X-Repo-Commit"))
        .isEqualTo(pr);
    assertThat(head(api("/org/name/resolve/refs/pr/1/extra.bin")).header("X-Repo-Commit"))
        .isEqualTo(pr);
    assertThat(head(api("/org/name/resolve/" + main + "/config.json")).header("X-Repo-Commit"))
        .isEqualTo(main);
  }

  @Test
  void commitsSnapshotTheStagedTreeAndMoveOnlyTheNamedRefs() throws Exception {
    FakeHub.Repo repo = hub.repo("org/name");
    String detached = repo.delete("sub/notes.txt").commit();
    assertThat(sha(api("/api/models/org/name/revision/main"))).isEqualTo(main);
    assertThat(
            get(api("/api/models/org/name/revision/" + detached))
                .json()
                .get("siblings")
                .findValuesAsText("rfilename"))
        .containsExactly("config.json", "model.safetensors");
    assertThat(repo.commit("main")).isNotEqualTo(detached);
    assertThat(sha(api("/api/models/org/name/revision/main"))).isNotEqualTo(main);

    hub.repo("org/tagged").file("a.txt", NOTES, false).commit("v1");
    assertThat(get(api("/api/models/org/tagged/revision/main")).code()).isEqualTo(404);
  }

  @Test
  void unknownRepoRevisionAndPathAnswerTheHubsErrorHeaders() throws Exception {
    Answer repo = get(api("/api/models/org/nope/revision/main"));
    assertThat(repo.code()).isEqualTo(401);
    assertThat(repo.header("X-Error-Code")).isEqualTo("RepoNotFound");
    assertThat(repo.header("X-Error-Message")).isEqualTo("Repository not found");
    assertThat(repo.text()).isEqualTo("{\"error\":\"Repository not found\"}");
    Answer authenticated =
        get(api("/api/models/org/nope/revision/main"), "Authorization", "Bearer hf_x");
    assertThat(authenticated.code()).isEqualTo(404);
    assertThat(authenticated.header("X-Error-Code")).isEqualTo("RepoNotFound");
    assertThat(head(api("/org/nope/resolve/main/config.json")).code()).isEqualTo(401);

    Answer revision = get(api("/api/models/org/name/revision/nobranch"));
    assertThat(revision.code()).isEqualTo(404);
    assertThat(revision.header("X-Error-Code")).isEqualTo("RevisionNotFound");
    assertThat(revision.header("X-Error-Message")).isEqualTo("Invalid rev id: nobranch");
    assertThat(revision.text()).isEqualTo("{\"error\":\"Invalid rev id: nobranch\"}");
    assertThat(head(api("/org/name/resolve/nobranch/config.json")).header("X-Error-Code"))
        .isEqualTo("RevisionNotFound");
    assertThat(get(api("/api/models/org/name/tree/nobranch")).header("X-Error-Code"))
        .isEqualTo("RevisionNotFound");

    Answer entry = head(api("/org/name/resolve/main/sub/missing.bin"));
    assertThat(entry.code()).isEqualTo(404);
    assertThat(entry.header("X-Error-Code")).isEqualTo("EntryNotFound");
    assertThat(entry.header("X-Error-Message"))
        .isEqualTo("sub/missing.bin does not exist on \"main\"");
    assertThat(entry.header("X-Repo-Commit")).isEqualTo(main);
  }

  @Test
  void treePagesFollowTheLinkHeader() throws Exception {
    hub.pageSize(2);
    Answer first = get(api("/api/models/org/name/tree/main?recursive=true&expand=false"));
    Matcher link =
        Pattern.compile(
                "<(http://localhost:\\d+/api/models/org/name/tree/main\\?recursive=true&expand=false&cursor=[\\w-]+)>; rel=\"next\"")
            .matcher(first.header("Link"));
    assertThat(link.matches()).as(first.header("Link")).isTrue();
    assertThat(link.group(1)).startsWith(hub.endpoint());
    Answer second = get(link.group(1));
    assertThat(second.header("Link")).isNull();
    List<JsonNode> entries = new ArrayList<>();
    first.json().forEach(entries::add);
    second.json().forEach(entries::add);
    assertThat(first.json().size()).isEqualTo(2);
    assertThat(entries)
        .extracting(e -> e.get("path").asText())
        .containsExactly("config.json", "model.safetensors", "sub", "sub/notes.txt");

    JsonNode config = entries.get(0);
    assertThat(config.toString())
        .isEqualTo(
            "{\"type\":\"file\",\"oid\":\""
                + gitSha1(CONFIG)
                + "\",\"size\":"
                + CONFIG.length
                + ",\"path\":\"config.json\"}");
    byte[] pointer =
        ("version https://git-lfs.github.com/spec/v1\noid sha256:"
                + sha256(WEIGHTS)
                + "\nsize "
                + WEIGHTS.length
                + "\n")
            .getBytes(UTF_8);
    JsonNode weights = entries.get(1);
    assertThat(weights.get("type").asText()).isEqualTo("file");
    assertThat(weights.get("oid").asText()).isEqualTo(gitSha1(pointer));
    assertThat(weights.get("size").asLong()).isEqualTo(WEIGHTS.length);
    assertThat(weights.get("lfs").get("oid").asText()).isEqualTo(sha256(WEIGHTS));
    assertThat(weights.get("lfs").get("size").asLong()).isEqualTo(WEIGHTS.length);
    assertThat(weights.get("lfs").get("pointerSize").asInt()).isEqualTo(pointer.length);
    JsonNode dir = entries.get(2);
    assertThat(dir.get("type").asText()).isEqualTo("directory");
    assertThat(dir.get("oid").asText()).matches("[0-9a-f]{40}");
    assertThat(dir.get("size").asInt()).isZero();

    hub.pageSize(1000);
    for (String recursive : List.of("True", "1", "true")) {
      assertThat(paths(get(api("/api/models/org/name/tree/main?recursive=" + recursive))))
          .containsExactly("config.json", "model.safetensors", "sub", "sub/notes.txt");
    }
    assertThat(paths(get(api("/api/models/org/name/tree/main"))))
        .containsExactly("config.json", "model.safetensors", "sub");
    assertThat(paths(get(api("/api/models/org/name/tree/main/sub"))))
        .containsExactly("sub/notes.txt");
    assertThat(get(api("/api/models/org/name/tree/main")).header("Link")).isNull();
  }

  @Test
  void anLfsFileRedirectsToTheCdnHostWithItsLinkedEtagAndSize() throws Exception {
    Answer resolved = head(api("/org/name/resolve/main/model.safetensors"));
    assertThat(resolved.code()).isEqualTo(302);
    assertThat(resolved.header("Location"))
        .startsWith(hub.cdnBase() + "/lfs/" + sha256(WEIGHTS) + "?sig=");
    assertThat(hub.cdnBase()).startsWith("http://127.0.0.1:");
    assertThat(hub.endpoint()).startsWith("http://localhost:");
    assertThat(resolved.header("X-Linked-Etag")).isEqualTo("\"" + sha256(WEIGHTS) + "\"");
    assertThat(resolved.header("X-Linked-Size")).isEqualTo(Integer.toString(WEIGHTS.length));
    assertThat(resolved.header("X-Repo-Commit")).isEqualTo(main);
    assertThat(resolved.header("ETag")).isNotNull().isNotEqualTo(resolved.header("X-Linked-Etag"));
    assertThat(resolved.header("Content-Length")).isEqualTo("0");
    assertThat(get(api("/org/name/resolve/main/model.safetensors")).header("Location"))
        .isEqualTo(resolved.header("Location"));

    Answer bytes = get(resolved.header("Location"));
    assertThat(bytes.code()).isEqualTo(200);
    assertThat(bytes.body()).isEqualTo(WEIGHTS);
    assertThat(bytes.header("Accept-Ranges")).isEqualTo("bytes");
    assertThat(bytes.header("Content-Length")).isEqualTo(Integer.toString(WEIGHTS.length));
    assertThat(head(resolved.header("Location")).header("Content-Length"))
        .isEqualTo(Integer.toString(WEIGHTS.length));
    assertThat(get(hub.cdnBase() + "/lfs/" + sha256(WEIGHTS) + "?sig=forged").code())
        .isEqualTo(403);
  }

  @Test
  void aPlainFileRedirectsRelativelyToResolveCacheWhichAnswersItsGitSha1() throws Exception {
    Answer resolved = head(api("/org/name/resolve/main/sub/notes.txt"));
    assertThat(resolved.code()).isEqualTo(307);
    assertThat(resolved.header("Location"))
        .isEqualTo("/api/resolve-cache/models/org/name/" + main + "/sub/notes.txt");
    assertThat(resolved.header("X-Repo-Commit")).isEqualTo(main);

    Answer target = head(api(resolved.header("Location")));
    assertThat(target.code()).isEqualTo(200);
    assertThat(target.header("ETag")).isEqualTo("\"" + gitSha1(NOTES) + "\"");
    assertThat(target.header("Content-Length")).isEqualTo(Integer.toString(NOTES.length));
    assertThat(target.header("X-Repo-Commit")).isEqualTo(main);
    assertThat(target.header("Accept-Ranges")).isEqualTo("bytes");
    assertThat(get(api(resolved.header("Location"))).body()).isEqualTo(NOTES);

    String odd = hub.repo("org/name").file("dir one/a+b é.txt", CONFIG, false).commit("main");
    Answer encoded = head(api("/org/name/resolve/main/dir%20one/a%2Bb%20%C3%A9.txt"));
    assertThat(encoded.header("Location"))
        .isEqualTo("/api/resolve-cache/models/org/name/" + odd + "/dir%20one/a%2Bb%20%C3%A9.txt");
    assertThat(get(api(encoded.header("Location"))).body()).isEqualTo(CONFIG);
  }

  @Test
  void rangesAnswer206WithContentRangeOnBothByteEndpoints() throws Exception {
    String cdn = head(api("/org/name/resolve/main/model.safetensors")).header("Location");
    Answer tail = get(cdn, "Range", "bytes=10-");
    assertThat(tail.code()).isEqualTo(206);
    assertThat(tail.header("Content-Range")).isEqualTo("bytes 10-299999/300000");
    assertThat(tail.header("Content-Length")).isEqualTo("299990");
    assertThat(tail.body()).isEqualTo(Arrays.copyOfRange(WEIGHTS, 10, WEIGHTS.length));
    Answer middle = get(cdn, "Range", "bytes=5-9");
    assertThat(middle.header("Content-Range")).isEqualTo("bytes 5-9/300000");
    assertThat(middle.body()).isEqualTo(Arrays.copyOfRange(WEIGHTS, 5, 10));
    assertThat(get(cdn, "Range", "bytes=-4").body())
        .isEqualTo(Arrays.copyOfRange(WEIGHTS, 299_996, 300_000));
    Answer headRange = head(cdn, "Range", "bytes=100-");
    assertThat(headRange.code()).isEqualTo(206);
    assertThat(headRange.header("Content-Length")).isEqualTo("299900");
    Answer unsatisfiable = get(cdn, "Range", "bytes=300000-");
    assertThat(unsatisfiable.code()).isEqualTo(416);
    assertThat(unsatisfiable.header("Content-Range")).isEqualTo("bytes */300000");

    String plain = api("/api/resolve-cache/models/org/name/" + main + "/config.json");
    Answer slice = get(plain, "Range", "bytes=2-11");
    assertThat(slice.code()).isEqualTo(206);
    assertThat(slice.header("Content-Range")).isEqualTo("bytes 2-11/" + CONFIG.length);
    assertThat(slice.text()).isEqualTo("model_type");
    assertThat(slice.header("ETag")).isEqualTo("\"" + gitSha1(CONFIG) + "\"");
    assertThat(get(plain, "Range", "bytes=" + CONFIG.length + "-").code()).isEqualTo(416);
  }

  @Test
  void servesABigFileFromDiskToConcurrentConnections() throws Exception {
    Path big = tmp.resolve("big.bin");
    byte[] block = randomBytes(1 << 20, 3);
    try (var out = Files.newOutputStream(big)) {
      for (int i = 0; i < 24; i++) {
        block[0] = (byte) i;
        out.write(block);
      }
    }
    long size = Files.size(big);
    hub.repo("org/big").file("model.bin", big, true).commit();
    String cdn = head(api("/org/big/resolve/main/model.bin")).header("Location");
    assertThat(head(api("/org/big/resolve/main/model.bin")).header("X-Linked-Etag"))
        .isEqualTo("\"" + sha256(big) + "\"");

    // a whole-file download left open, its body larger than the socket buffers: a server with one
    // handler thread would never answer the range requests below
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (Response whole = http.newCall(new Request.Builder().url(cdn).build()).execute()) {
      InputStream body = whole.body().byteStream();
      assertThat(body.read()).isEqualTo(0);
      long part = size / 4;
      List<Future<byte[]>> parts = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        long from = i * part;
        long to = i == 3 ? size - 1 : from + part - 1;
        parts.add(pool.submit(() -> get(cdn, "Range", "bytes=" + from + "-" + to).body()));
      }
      MessageDigest joined = MessageDigest.getInstance("SHA-256");
      for (Future<byte[]> future : parts) {
        joined.update(future.get(60, TimeUnit.SECONDS));
      }
      assertThat(HexFormat.of().formatHex(joined.digest())).isEqualTo(sha256(big));
      MessageDigest rest = MessageDigest.getInstance("SHA-256");
      rest.update((byte) 0);
      rest.update(body.readAllBytes());
      assertThat(HexFormat.of().formatHex(rest.digest())).isEqualTo(sha256(big));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aGatedRepoAnswersGatedRepoUntilTheRequiredTokenIsSent() throws Exception {
    hub.repo("org/gated").file("a.bin", new byte[] {1}, true).commit();
    hub.repo("org/gated").gated(true);
    assertThat(get(api("/api/models/org/gated/revision/main")).json().get("gated").asText())
        .isEqualTo("manual");
    assertThat(paths(get(api("/api/models/org/gated/tree/main")))).containsExactly("a.bin");

    Answer anonymous = head(api("/org/gated/resolve/main/a.bin"));
    assertThat(anonymous.code()).isEqualTo(401);
    assertThat(anonymous.header("X-Error-Code")).isEqualTo("GatedRepo");
    assertThat(anonymous.header("X-Error-Message"))
        .isEqualTo(
            "Access to model org/gated is restricted. You must have access to it and be authenticated to access it. Please log in.");
    Answer outsider =
        head(api("/org/gated/resolve/main/a.bin"), "Authorization", "Bearer hf_other");
    assertThat(outsider.code()).isEqualTo(403);
    assertThat(outsider.header("X-Error-Code")).isEqualTo("GatedRepo");
    assertThat(outsider.header("X-Error-Message"))
        .isEqualTo(
            "Access to model org/gated is restricted and you are not in the authorized list. Visit "
                + hub.endpoint()
                + "/org/gated to ask for access.");

    hub.requireToken("hf_granted");
    assertThat(
            head(api("/org/gated/resolve/main/a.bin"), "Authorization", "Bearer hf_granted").code())
        .isEqualTo(302);
  }

  @Test
  void requireTokenAnswers401OnTheApiButTheCdnTrustsItsSignedUrls() throws Exception {
    hub.requireToken("hf_secret");
    Answer none = get(api("/api/models/org/name/revision/main"));
    assertThat(none.code()).isEqualTo(401);
    assertThat(none.header("X-Error-Code")).isEqualTo("RepoNotFound");
    assertThat(none.header("X-Error-Message")).isEqualTo("Invalid username or password.");
    Answer wrong =
        get(api("/api/models/org/name/revision/main"), "Authorization", "Bearer hf_wrong");
    assertThat(wrong.code()).isEqualTo(401);
    assertThat(wrong.header("X-Error-Code")).isNull();
    assertThat(wrong.header("X-Error-Message"))
        .isEqualTo("Invalid credentials in Authorization header");
    assertThat(head(api("/org/name/resolve/main/config.json")).code()).isEqualTo(401);

    assertThat(sha(api("/api/models/org/name/revision/main"), "Authorization", "Bearer hf_secret"))
        .isEqualTo(main);
    String cdn =
        head(api("/org/name/resolve/main/model.safetensors"), "Authorization", "Bearer hf_secret")
            .header("Location");
    assertThat(get(cdn).body()).isEqualTo(WEIGHTS);
    hub.requireToken(null);
    assertThat(get(api("/api/models/org/name/revision/main")).code()).isEqualTo(200);
  }

  @Test
  void aCutBodyIsShorterThanItsContentLengthOnce() throws Exception {
    String cdn = head(api("/org/name/resolve/main/model.safetensors")).header("Location");
    hub.fault(Fault.cut("/lfs/", 100_000));
    AtomicLong received = new AtomicLong();
    try (Response response = http.newCall(new Request.Builder().url(cdn).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(response.header("Content-Length")).isEqualTo("300000");
      assertThatThrownBy(() -> readAll(response.body().byteStream(), received))
          .isInstanceOf(IOException.class);
    }
    assertThat(received.get()).isEqualTo(100_000);
    assertThat(get(cdn).body()).isEqualTo(WEIGHTS);
  }

  @Test
  void wrongBytesKeepTheSizeButNotTheDigest() throws Exception {
    String cdn = head(api("/org/name/resolve/main/model.safetensors")).header("Location");
    hub.fault(Fault.wrongBytes("/lfs/"));
    byte[] wrong = get(cdn).body();
    assertThat(wrong).hasSameSizeAs(WEIGHTS);
    assertThat(sha256(wrong)).isNotEqualTo(sha256(WEIGHTS));
    List<Integer> differ = new ArrayList<>();
    for (int i = 0; i < wrong.length; i++) {
      if (wrong[i] != WEIGHTS[i]) {
        differ.add(i);
      }
    }
    assertThat(differ).containsExactly(150_000);
    assertThat(get(cdn).body()).isEqualTo(WEIGHTS);
  }

  @Test
  void aStatusFaultIsAnsweredOnceThenServiceResumes() throws Exception {
    hub.fault(Fault.status("/revision/", 503, "7")).fault(Fault.status("/tree/", 429, null));
    Answer unavailable = get(api("/api/models/org/name/revision/main"));
    assertThat(unavailable.code()).isEqualTo(503);
    assertThat(unavailable.header("Retry-After")).isEqualTo("7");
    assertThat(unavailable.header("X-Error-Message")).isEqualTo("Injected fault: HTTP 503");
    assertThat(unavailable.text()).isEqualTo("{\"error\":\"Injected fault: HTTP 503\"}");
    assertThat(sha(api("/api/models/org/name/revision/main"))).isEqualTo(main);

    Answer limited = get(api("/api/models/org/name/tree/main"));
    assertThat(limited.code()).isEqualTo(429);
    assertThat(limited.header("Retry-After")).isNull();
    assertThat(get(api("/api/models/org/name/tree/main")).code()).isEqualTo(200);

    hub.fault(Fault.status(null, 500, null));
    assertThat(head(api("/org/name/resolve/main/config.json")).code()).isEqualTo(500);
    assertThat(head(api("/org/name/resolve/main/config.json")).code()).isEqualTo(307);
  }

  @Test
  void aSlowFaultThrottlesOneBody() throws Exception {
    String cdn = head(api("/org/name/resolve/main/model.safetensors")).header("Location");
    hub.fault(Fault.slow("/lfs/", 300_000));
    long started = System.nanoTime();
    assertThat(get(cdn).body()).isEqualTo(WEIGHTS);
    assertThat(System.nanoTime() - started)
        .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(900));
  }

  @Test
  void datasetsHaveTheirOwnRoutes() throws Exception {
    String commit =
        hub.repo("dataset", "org/data").file("train.csv", "a,b\n".getBytes(UTF_8), false).commit();
    assertThat(get(api("/api/datasets/org/data/revision/main")).json().get("id").asText())
        .isEqualTo("org/data");
    assertThat(paths(get(api("/api/datasets/org/data/tree/main?recursive=true"))))
        .containsExactly("train.csv");
    Answer resolved = head(api("/datasets/org/data/resolve/main/train.csv"));
    assertThat(resolved.code()).isEqualTo(307);
    assertThat(resolved.header("Location"))
        .isEqualTo("/api/resolve-cache/datasets/org/data/" + commit + "/train.csv");
    assertThat(get(api(resolved.header("Location"))).text()).isEqualTo("a,b\n");
    assertThat(get(api("/api/models/org/data/revision/main")).header("X-Error-Code"))
        .isEqualTo("RepoNotFound");
    assertThat(head(api("/org/data/resolve/main/train.csv")).code()).isEqualTo(401);
  }

  @Test
  void recordsEveryRequestOnBothHostsWithLowerCaseHeaderNames() throws Exception {
    hub.clearRequests();
    String cdn =
        head(api("/org/name/resolve/main/model.safetensors"), "X-Test", "yes").header("Location");
    get(cdn);
    List<Recorded> requests = hub.requests();
    assertThat(requests)
        .extracting(Recorded::host, Recorded::method, Recorded::path)
        .containsExactly(
            tuple("api", "HEAD", "/org/name/resolve/main/model.safetensors"),
            tuple("cdn", "GET", cdn.substring(hub.cdnBase().length())));
    assertThat(requests.get(0).headers()).containsEntry("x-test", "yes").containsKey("user-agent");
    hub.clearRequests();
    assertThat(hub.requests()).isEmpty();
  }

  @Test
  void rejectsBadArgumentsNamingTheValue() {
    assertThatThrownBy(() -> hub.repo("nameonly"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("repoId (nameonly) must look like \"org/name\"");
    assertThatThrownBy(() -> hub.repo("space", "org/name"))
        .hasMessage("repoType (space) must be \"model\" or \"dataset\"");
    assertThatThrownBy(() -> hub.repo("org/name").file("/abs.txt", NOTES, false))
        .hasMessage("path (/abs.txt) must be relative with no empty, '.' or '..' segments");
    assertThatThrownBy(() -> hub.pageSize(0)).hasMessage("pageSize (0) must be positive");
    assertThatThrownBy(() -> hub.repo("org/name").commit(main))
        .hasMessage("ref (" + main + ") must be a branch or tag name");
  }

  // ---- helpers ------------------------------------------------------------------------------

  private record Answer(int code, Headers headers, byte[] body) {
    String header(String name) {
      return headers.get(name);
    }

    String text() {
      return new String(body, UTF_8);
    }

    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  private String api(String path) {
    return hub.endpoint() + path;
  }

  private Answer get(String url, String... headers) throws IOException {
    return call("GET", url, headers);
  }

  private Answer head(String url, String... headers) throws IOException {
    return call("HEAD", url, headers);
  }

  private Answer call(String method, String url, String... headers) throws IOException {
    Request.Builder request = new Request.Builder().url(url).method(method, null);
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    try (Response response = http.newCall(request.build()).execute()) {
      return new Answer(response.code(), response.headers(), response.body().bytes());
    }
  }

  private String sha(String url, String... headers) throws IOException {
    Answer answer = get(url, headers);
    assertThat(answer.code()).as(answer.text()).isEqualTo(200);
    return answer.json().get("sha").asText();
  }

  private static List<String> paths(Answer answer) throws IOException {
    assertThat(answer.code()).as(answer.text()).isEqualTo(200);
    List<String> paths = new ArrayList<>();
    answer.json().forEach(e -> paths.add(e.get("path").asText()));
    return paths;
  }

  private static void readAll(InputStream in, AtomicLong count) throws IOException {
    byte[] buffer = new byte[8192];
    for (int n; (n = in.read(buffer)) >= 0; ) {
      count.addAndGet(n);
    }
  }

  static byte[] randomBytes(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  static String sha256(Path file) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[1 << 16];
      for (int n; (n = in.read(buffer)) > 0; ) {
        digest.update(buffer, 0, n);
      }
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  /** Git's blob id, computed here independently of the fake: SHA-1 of "blob N\0" + bytes. */
  static String gitSha1(byte[] bytes) throws Exception {
    ByteArrayOutputStream blob = new ByteArrayOutputStream();
    blob.writeBytes(("blob " + bytes.length + "\0").getBytes(UTF_8));
    blob.writeBytes(bytes);
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(blob.toByteArray()));
  }
}
