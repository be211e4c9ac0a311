# The samples of bench/asprof.sh's collapsed stacks by where they are spent, per request.
# usage: asprof-summary.py FILE.collapsed REQUESTS [TOP]   (cpu: samples x INTERVAL; alloc: bytes)
# Each stack goes to the first category whose key matches, scanning from the leaf up; the JIT compilers and the
# GC are taken by their threads' roots first; the JDK's frames count for the nearest caller of a category.
import sys, collections
f = sys.argv[1]; reqs = int(sys.argv[2]); top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
ROOTS = [('JIT compilers', ('CompileBroker',)), ('GC', ('G1', 'GCTaskThread', 'WorkerThread::run', 'ConcurrentGCThread'))]
CATS = [('libtorch (the pass)', ('libtorch', 'at::', 'torch::', 'c10::', 'mkl', 'omp', 'sgemm', 'dnnl', 'fbgemm')),
        ('DJL JNI glue', ('Java_ai_djl',)),
        ('DJL Java (NDManager, NDArray, IValue, Predictor)', ('ai/djl', 'ai.djl')),
        ('logging (logback, MDC)', ('ch/qos/logback', 'org/slf4j')),
        ('Jackson', ('com/fasterxml',)),
        ('hand-off (queue, future, park/unpark)', ('inference/Batcher', 'inference/PredictorPool', 'LockSupport',
                                                   'AbstractQueuedSynchronizer', 'CompletableFuture', 'Semaphore')),
        ('tensor task (parse, fit, render)', ('dev/modelcache/inference/Tensor', 'dev/modelcache/inference/TensorCodec')),
        ('metrics (Micrometer)', ('io/micrometer',)),
        ('Javalin', ('io/javalin', 'kotlin/')),
        ('Jetty (HTTP)', ('org/eclipse/jetty',)),
        ('modelcache, other', ('dev/modelcache',))]
JDK = ('JDK alone (threads, NIO)', ('java/', 'jdk/', 'sun/'))
cats = collections.Counter(); leaves = collections.Counter(); total = 0
for line in open(f):
    stack, _, n = line.rstrip('\n').rpartition(' ')
    n = int(n); total += n
    fs = stack.split(';')
    cat = next((c for c, ks in ROOTS if any(k in fr for fr in fs for k in ks)), None)
    if cat is None:
        cat = next((c for fr in reversed(fs) for c, ks in CATS if any(k in fr for k in ks)), None)
    if cat is None:  # the JDK's frames count for whoever called them; alone, for themselves
        cat = JDK[0] if any(k in fr for fr in fs for k in JDK[1]) else 'other (JVM, kernel, libc)'

    cats[cat] += n
    leaves[fs[-1]] += n
unit = 'samples' if 'cpu' in f else 'bytes'
print(f'{total} {unit}, {reqs} requests: {total / reqs:.3f} {unit} a request')
for c, n in cats.most_common():
    print(f'{100 * n / total:5.1f} %  {n / reqs:9.3f} {unit}/req  {c}')
print('-- top leaf frames')
for fr, n in leaves.most_common(top):
    print(f'{100 * n / total:5.1f} %  {fr[:140]}')
