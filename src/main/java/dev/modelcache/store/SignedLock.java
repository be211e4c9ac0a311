package dev.modelcache.store;

import dev.modelcache.config.Config.VerificationConfig;
import dev.modelcache.config.ModelConfig;
import dev.modelcache.store.InstalledSnapshot.InstalledFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code modelcache.lock} read once with the verdict on its signature: which trusted key signed the
 * very bytes parsed, or why none did. With {@code verification.require_signature} it refuses,
 * naming the model and the reason, every model that the signed lockfile does not name exactly.
 *
 * <pre>{@code
 * SignedLock signed = SignedLock.read(config.lockfile(), config.verification());
 * signed.requireSigned(model);            // before fetching or serving it
 * signed.requireNamed(model, snapshot);   // what is served is exactly what is signed
 * }</pre>
 */
public final class SignedLock {
  private static final Logger log = LoggerFactory.getLogger(SignedLock.class);

  private final Lockfile lock;
  private final Optional<LockSignature.Signer> signer;
  private final String refusal;
  private final boolean required;

  private SignedLock(
      Lockfile lock, Optional<LockSignature.Signer> signer, String refusal, boolean required) {
    this.lock = lock;
    this.signer = signer;
    this.refusal = refusal;
    this.required = required;
  }

  /**
   * Reads {@code lockfile} and, when {@code verification} names keys, checks its signature file. A
   * broken lockfile or an unreadable key fails; a bad signature is a refusal when one is required,
   * else a warning.
   */
  public static SignedLock read(Path lockfile, VerificationConfig verification) throws IOException {
    if (verification.publicKeys().isEmpty()) {
      return new SignedLock(Lockfile.read(lockfile), Optional.empty(), null, false);
    }
    LockSignature trusted = LockSignature.trusting(verification.publicKeys());
    boolean required = verification.requireSignature();
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(lockfile);
    } catch (NoSuchFileException e) {
      return refused(
          Lockfile.empty(),
          lockfile + " is missing; write and sign it with 'modelcache lock --sign KEY'",
          required);
    }
    Lockfile lock = Lockfile.parse(bytes, lockfile);
    Path sigFile = LockSignature.sigFile(lockfile);
    byte[] signature;
    try {
      signature = Files.readAllBytes(sigFile);
    } catch (NoSuchFileException e) {
      return refused(
          lock,
          sigFile
              + " is missing: modelcache.lock is not signed; sign it with 'modelcache lock --sign KEY'",
          required);
    }
    Optional<LockSignature.Signer> signer = trusted.verify(bytes, signature);
    if (signer.isEmpty()) {
      return refused(
          lock,
          sigFile
              + " is not a valid signature of "
              + lockfile.getFileName()
              + " by any trusted key "
              + trusted.keyIds()
              + ": the lockfile changed after it was signed, or another key signed it",
          required);
    }
    log.info(
        "{} - signed by key {} ({}, {})",
        lockfile,
        signer.get().keyId(),
        signer.get().algorithm(),
        signer.get().origin());
    return new SignedLock(lock, signer, null, required);
  }

  private static SignedLock refused(Lockfile lock, String reason, boolean required) {
    if (!required) {
      log.warn("{}; verification.require_signature is false: serving as configured", reason);
    }
    return new SignedLock(lock, Optional.empty(), reason, required);
  }

  /** The lockfile, signed or not. */
  public Lockfile lockfile() {
    return lock;
  }

  /** Whether a model must be named by a validly signed lockfile to be fetched or served. */
  public boolean required() {
    return required;
  }

  /**
   * The key that signed the lockfile entry of {@code model}, when a trusted one did and the entry
   * is for the model's source as configured.
   */
  public Optional<LockSignature.Signer> signedBy(ModelConfig model) {
    return lock.model(model.name())
        .filter(entry -> entry.source().equals(model.source().text()))
        .flatMap(entry -> signer);
  }

  /** {@link #signedBy} of each of {@code models}, by name (what {@code /models} shows). */
  public Function<String, Optional<LockSignature.Signer>> signers(List<ModelConfig> models) {
    return name ->
        models.stream().filter(m -> m.name().equals(name)).findFirst().flatMap(this::signedBy);
  }

  /**
   * Under {@code require_signature}: fails unless the lockfile is validly signed and names {@code
   * model} with its configured source.
   */
  public void requireSigned(ModelConfig model) throws StoreException {
    if (!required) {
      return;
    }
    if (refusal != null) {
      throw refuse(model, refusal);
    }
    Optional<Lockfile.Locked> entry = lock.model(model.name());
    if (entry.isEmpty()) {
      throw refuse(
          model,
          "the signed modelcache.lock does not name it; lock and sign it with 'modelcache lock"
              + " --sign KEY'");
    }
    if (!entry.get().source().equals(model.source().text())) {
      throw refuse(
          model,
          "the signed modelcache.lock names source "
              + entry.get().source()
              + ", the config "
              + model.source().text()
              + "; lock and sign it again with 'modelcache lock --sign KEY'");
    }
  }

  /**
   * Under {@code require_signature}: fails unless {@code snapshot} holds exactly the files the
   * signed entry of {@code model} names, with their SHA-256.
   */
  public void requireNamed(ModelConfig model, InstalledSnapshot snapshot) throws StoreException {
    if (!required) {
      return;
    }
    requireSigned(model);
    Map<String, String> locked = new TreeMap<>();
    lock.model(model.name()).orElseThrow().files().forEach(f -> locked.put(f.path(), f.sha256()));
    List<String> differences = new ArrayList<>();
    for (InstalledFile file : snapshot.files()) {
      String sha256 = locked.remove(file.path());
      if (sha256 == null) {
        differences.add(file.path() + " is not in it");
      } else if (!sha256.equals(file.sha256())) {
        differences.add(file.path() + " has sha256 " + file.sha256() + ", signed " + sha256);
      }
    }
    locked.keySet().forEach(path -> differences.add(path + " is signed but not in the snapshot"));
    if (!differences.isEmpty()) {
      throw refuse(
          model,
          "snapshot "
              + snapshot.id()
              + " is not what the signed modelcache.lock names: "
              + String.join("; ", differences));
    }
  }

  private static StoreException refuse(ModelConfig model, String reason) {
    return new StoreException(
        model.name() + " - refused (verification.require_signature): " + reason, null);
  }
}
