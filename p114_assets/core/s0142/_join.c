/* BPI joined with its BP7 twin: part of the _fields module (see _fields.c and nesting.py). */
#include "_fields.h"
#include <pthread.h>

/* ---------------------------------------------------------------------------------------------
 * BPI joined with its BP7 twin (nesting.py): each BP7 row's BPI row (the first BPI of the same
 * period and unit), which BPI rows are used, and where each twin column differs. */

typedef struct { /* one chunk of an Arrow column: string (int32 offsets), float64 or decimal128 */
    const uint8_t *valid; /* NULL: no nulls */
    const char *values;   /* offsets of a string, or the values */
    const char *data;     /* string bytes */
    int64_t offset, length, start; /* the chunk's own offset, its rows, and its first row in the column */
} Chunk;

typedef struct {
    Chunk *chunks;
    Py_ssize_t n;
    Py_buffer *views;
    Py_ssize_t n_views;
} ColumnView;

static void view_release(ColumnView *c) {
    for (Py_ssize_t i = 0; i < c->n_views; i++) PyBuffer_Release(&c->views[i]);
    PyMem_Free(c->views);
    PyMem_Free(c->chunks);
    c->views = NULL, c->chunks = NULL, c->n = c->n_views = 0;
}

/* A column from a list of (validity or None, values, data or None, offset, length) tuples. */
static int view_init(ColumnView *c, PyObject *list, int64_t rows, int value_size) {
    memset(c, 0, sizeof(*c));
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "a column is a list of chunks");
        return 0;
    }
    c->n = PyList_GET_SIZE(list);
    c->chunks = PyMem_Calloc((size_t)c->n + 1, sizeof(Chunk));
    c->views = PyMem_Calloc((size_t)c->n * 3 + 1, sizeof(Py_buffer));
    if (!c->chunks || !c->views) {
        PyErr_NoMemory();
        return 0;
    }
    int64_t start = 0;
    for (Py_ssize_t i = 0; i < c->n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i), *objs[3];
        long long offset, length;
        if (!PyArg_ParseTuple(item, "OOOLL", &objs[0], &objs[1], &objs[2], &offset, &length)) return 0;
        Py_buffer *b[3] = {NULL, NULL, NULL};
        for (int k = 0; k < 3; k++) {
            if (objs[k] == Py_None) continue;
            if (PyObject_GetBuffer(objs[k], &c->views[c->n_views], PyBUF_SIMPLE) < 0) return 0;
            b[k] = &c->views[c->n_views++];
        }
        if (offset < 0 || length < 0 || !b[1] || (b[0] && b[0]->len * 8 < offset + length) ||
            (value_size ? b[1]->len < (offset + length) * value_size
                        : (!b[2] || b[1]->len < (offset + length + 1) * 4))) {
            PyErr_SetString(PyExc_ValueError, "a chunk's buffers are shorter than its rows");
            return 0;
        }
        if (!value_size) { /* every string inside its bytes */
            const int32_t *o = (const int32_t *)b[1]->buf;
            for (int64_t r = offset; r < offset + length; r++)
                if (o[r] < 0 || o[r] > o[r + 1] || o[r + 1] > b[2]->len) {
                    PyErr_SetString(PyExc_ValueError, "a string outside its chunk's bytes");
                    return 0;
                }
        }
        c->chunks[i] = (Chunk){b[0] ? b[0]->buf : NULL, b[1]->buf, b[2] ? b[2]->buf : NULL, offset, length, start};
        start += length;
    }
    c->chunks[c->n].start = start; /* a sentinel */
    if (start != rows) {
        PyErr_SetString(PyExc_ValueError, "a column's chunks do not hold its rows");
        return 0;
    }
    return 1;
}

/* The chunk holding row r, and r's index in it (a binary search over the few chunks) */
static inline const Chunk *locate(const ColumnView *c, int64_t r, int64_t *at) {
    Py_ssize_t lo = 0, hi = c->n - 1;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi + 1) / 2;
        if (c->chunks[mid].start <= r) lo = mid;
        else hi = mid - 1;
    }
    const Chunk *k = &c->chunks[lo];
    *at = r - k->start + k->offset;
    return k;
}

static inline int is_valid(const Chunk *k, int64_t at) { return !k->valid || (k->valid[at >> 3] >> (at & 7)) & 1; }

static inline const char *string_at(const Chunk *k, int64_t at, int32_t *length) {
    const int32_t *o = (const int32_t *)k->values;
    *length = o[at + 1] - o[at];
    return k->data + o[at];
}

static inline uint64_t hash_bytes(const char *p, int32_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int32_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    h ^= h >> 33; /* mixed, so that the low bits (the slot) depend on every byte */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

typedef struct {
    int64_t *slots; /* unit code + 1 a slot; 0: empty */
    uint64_t mask;
    const char **text; /* each code's unit id (to compare with) */
    int32_t *length;
    int64_t n_codes;
} Units;

/* The code of a unit id (its first appearance among BPI units), added when `add`; -1 when absent */
static int grow(Units *u) { /* twice the slots, each code placed again */
    uint64_t capacity = (u->mask + 1) * 2;
    int64_t *slots = calloc(capacity, 8);
    if (!slots) return 0;
    for (int64_t code = 0; code < u->n_codes; code++) {
        uint64_t i = hash_bytes(u->text[code], u->length[code]) & (capacity - 1);
        while (slots[i]) i = (i + 1) & (capacity - 1);
        slots[i] = code + 1;
    }
    free(u->slots);
    u->slots = slots, u->mask = capacity - 1;
    return 1;
}

static int64_t unit_code(Units *u, const char *p, int32_t n, int add) {
    if (add && 2 * (uint64_t)(u->n_codes + 1) > u->mask + 1 && !grow(u)) return -2;
    uint64_t h = hash_bytes(p, n);
    for (uint64_t i = h & u->mask;; i = (i + 1) & u->mask) {
        int64_t code = u->slots[i] - 1;
        if (code < 0) {
            if (!add) return -1;
            u->slots[i] = u->n_codes + 1;
            u->text[u->n_codes] = p;
            u->length[u->n_codes] = n;
            return u->n_codes++;
        }
        if (u->length[code] == n && memcmp(p, u->text[code], (size_t)n) == 0) return code;
    }
}

/* Units come in runs that repeat (every period lists the units in the same order, and each party's
 * periods its units): the code that followed a unit's code last time is tried first, with one
 * comparison of the text, before the hash table. A wrong guess costs that comparison; the code
 * found is the hash table's either way. */
typedef struct {
    int32_t *next; /* per code, the code that followed it last, -1: none (entries [0, filled) are set) */
    int64_t previous; /* the previous row's code, -1: none */
    int64_t filled;
} Sequence;

static inline int64_t predicted(const Units *u, const Sequence *s, const char *p, int32_t n) {
    if (s->previous < 0) return -1;
    int32_t guess = s->next[s->previous];
    if (guess < 0 || u->length[guess] != n || memcmp(p, u->text[guess], (size_t)n) != 0) return -1;
    return guess;
}

static inline void follow(Sequence *s, int64_t code) {
    for (; s->filled <= code; s->filled++) s->next[s->filled] = -1; /* codes are given 0, 1, 2, ... */
    if (s->previous >= 0) s->next[s->previous] = (int32_t)code;
    s->previous = code;
}

/* Whether chunks of two columns cover the same rows (then a row's chunk is found once for both) */
static int aligned(const ColumnView *x, const ColumnView *y) {
    if (x->n != y->n) return 0;
    for (Py_ssize_t i = 0; i <= x->n; i++)
        if (x->chunks[i].start != y->chunks[i].start) return 0;
    return 1;
}

/* The chunk of row r and r's index in it: from `chunk_of` (each row's chunk, when the column's
 * chunks are aligned with the ones it was made from), else by a search */
static inline const Chunk *row_at(const ColumnView *c, const uint8_t *chunk_of, int64_t r, int64_t *at) {
    if (!chunk_of) return locate(c, r, at);
    const Chunk *k = &c->chunks[chunk_of[r]];
    *at = r - k->start + k->offset;
    return k;
}

typedef struct {
    char kind;
    const ColumnView *bpi, *bp7, *blank; /* blank: the BP7 column a blank BPI value stands for, or NULL */
    const uint8_t *bpi_chunk, *bp7_chunk, *blank_chunk;
} Twin;

/* Whether BP7 row r differs from BPI row `row` in one twin */
static inline int twin_differs(const Twin *t, int64_t row, int64_t r) {
    int64_t ai, ei;
    const Chunk *a = row_at(t->bp7, t->bp7_chunk, r, &ai), *e = row_at(t->bpi, t->bpi_chunk, row, &ei);
    int a_ok = is_valid(a, ai), e_ok = is_valid(e, ei);
    if (t->kind == 's' && !e_ok && t->blank) {
        e = row_at(t->blank, t->blank_chunk, r, &ei);
        e_ok = is_valid(e, ei);
    }
    if (a_ok != e_ok) return 1;
    if (!a_ok) return 0;
    switch (t->kind) {
    case 's': {
        int32_t n, m;
        const char *p = string_at(a, ai, &n), *q = string_at(e, ei, &m);
        return n != m || memcmp(p, q, (size_t)n) != 0;
    }
    case 'f':
        return ((const double *)a->values)[ai] != ((const double *)e->values)[ei];
    default: /* decimal128 of at most 18 digits: the low word is the value */
        return ((const int64_t *)a->values)[2 * ai] != ((const int64_t *)e->values)[2 * ei];
    }
}

#define PREFETCH 16 /* rows */

typedef struct { /* every twin compared for the BP7 rows order[begin, end) */
    const Twin *twins;
    Py_ssize_t n_twins;
    const int32_t *order;
    int64_t begin, end;
    const int64_t *match;
    char **differs; /* shared: the two halves write different rows */
    int64_t *counts; /* this half's own: differing rows a twin */
} Comparison;

static void *compare_twins(void *arg) {
    const Comparison *c = arg;
    for (Py_ssize_t t = 0; t < c->n_twins; t++) { /* a column at a time */
        const Twin *twin = &c->twins[t];
        int size = twin->kind == 's' ? 4 : twin->kind == 'f' ? 8 : 16; /* of a value, or a string's offset */
        for (int64_t k = c->begin; k < c->end; k++) {
            if (k + PREFETCH < c->end) { /* the reads a few rows ahead, so that their misses overlap */
                int64_t r2 = c->order[k + PREFETCH], a2, e2;
                const Chunk *x = row_at(twin->bp7, twin->bp7_chunk, r2, &a2);
                const Chunk *y = row_at(twin->bpi, twin->bpi_chunk, c->match[r2], &e2);
                __builtin_prefetch(x->values + a2 * size);
                __builtin_prefetch(y->values + e2 * size);
            }
            int64_t r = c->order[k];
            if (twin_differs(twin, c->match[r], r)) {
                c->differs[t][r] = 1;
                c->counts[t]++;
            }
        }
    }
    return NULL;
}

/* Each row's chunk, for columns of up to 256 chunks (else NULL: rows are located by a search) */
static uint8_t *chunk_of_rows(const ColumnView *c, int64_t rows) {
    if (c->n > 256) return NULL;
    uint8_t *out = malloc((size_t)rows + 1);
    if (out)
        for (Py_ssize_t i = 0; i < c->n; i++) memset(out + c->chunks[i].start, (int)i, (size_t)c->chunks[i].length);
    return out;
}

const char p114_join_doc[] = PyDoc_STR(
"join(bpi_period, bpi_units, bp7_period, bp7_units, twins, max_slots) -> (match, used, differs) | None\n\n"
"BPI with its BP7 twin (nesting.bm_unit_period): periods are int64 buffers; a column is a list of\n"
"chunks (validity or None, values, data or None, offset, length), units strings without nulls.\n"
"twins: (kind, bpi column, bp7 column, blank-means bp7 column or None); kind s (string), f (float64)\n"
"or d (decimal128 of at most 18 digits). match: int64, each BP7 row's first BPI row of its period\n"
"and unit, -1 where none; used: a byte a BPI row, 1 where a BP7 row took it; differs: a byte a BP7\n"
"row for each twin, 1 where matched and unequal (a blank BPI value taken as the blank-means column),\n"
"or None where the twin agrees on every row.\n"
"None when the periods span more than max_slots (periods x units): the general join handles that.");

PyObject *p114_join(PyObject *self, PyObject *args) {
    Py_buffer bpi_period, bp7_period;
    PyObject *bpi_units_obj, *bp7_units_obj, *twins_obj;
    long long max_slots;
    if (!PyArg_ParseTuple(args, "y*Oy*OOL", &bpi_period, &bpi_units_obj, &bp7_period, &bp7_units_obj, &twins_obj,
                          &max_slots))
        return NULL;
    PyObject *result = NULL, *match_obj = NULL, *used_obj = NULL, *differs = NULL;
    int64_t n_bpi = bpi_period.len / 8, n_bp7 = bp7_period.len / 8;
    ColumnView bpi_units = {0}, bp7_units = {0}, *views = NULL;
    Py_ssize_t n_twins = 0;
    char *kinds = NULL;
    Units u = {0};
    int32_t *table = NULL; /* rows fit int32: checked below */
    if (!PyList_Check(twins_obj)) {
        PyErr_SetString(PyExc_TypeError, "twins is a list");
        goto done;
    }
    n_twins = PyList_GET_SIZE(twins_obj);
    views = PyMem_Calloc((size_t)n_twins * 3 + 1, sizeof(ColumnView));
    kinds = PyMem_Calloc((size_t)n_twins + 1, 1);
    if (!views || !kinds) {
        PyErr_NoMemory();
        goto done;
    }
    if (!view_init(&bpi_units, bpi_units_obj, n_bpi, 0) || !view_init(&bp7_units, bp7_units_obj, n_bp7, 0)) goto done;
    for (Py_ssize_t t = 0; t < n_twins; t++) {
        PyObject *cols[3];
        const char *kind;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(twins_obj, t), "sOOO", &kind, &cols[0], &cols[1], &cols[2])) goto done;
        kinds[t] = kind[0];
        int size = kind[0] == 's' ? 0 : kind[0] == 'f' ? 8 : kind[0] == 'd' ? 16 : -1;
        if (size < 0 || (size && cols[2] != Py_None)) {
            PyErr_SetString(PyExc_ValueError, "a twin's kind is s, f or d (only s has a blank-means column)");
            goto done;
        }
        if (!view_init(&views[3 * t], cols[0], n_bpi, size) || !view_init(&views[3 * t + 1], cols[1], n_bp7, size))
            goto done;
        if (cols[2] != Py_None && !view_init(&views[3 * t + 2], cols[2], n_bp7, 0)) goto done;
    }
    for (int side = 0; side < 2; side++) { /* unit ids are keys: a null one is not joined here */
        ColumnView *c = side ? &bp7_units : &bpi_units;
        for (Py_ssize_t i = 0; i < c->n; i++)
            if (c->chunks[i].valid && c->chunks[i].length) {
                const Chunk *k = &c->chunks[i];
                for (int64_t r = k->offset; r < k->offset + k->length; r++)
                    if (!is_valid(k, r)) {
                        result = Py_NewRef(Py_None);
                        goto done;
                    }
            }
    }
    const int64_t *p_bpi = bpi_period.buf, *p_bp7 = bp7_period.buf;
    int64_t low = 0, high = -1;
    for (int64_t r = 0; r < n_bpi; r++) {
        if (r == 0 || p_bpi[r] < low) low = p_bpi[r];
        if (r == 0 || p_bpi[r] > high) high = p_bpi[r];
    }
    char *match_buf, *used_buf;
    if (!(match_obj = new_bytes(n_bp7 * 8, &match_buf, 0)) || !(used_obj = new_bytes(n_bpi, &used_buf, 1))) goto done;
    if (!(differs = PyList_New(n_twins))) goto done;
    if (n_bpi >= INT32_MAX || n_bp7 >= INT32_MAX) { /* never an S0142 file: the general join */
        result = Py_NewRef(Py_None);
        goto done;
    }
    /* zeroed pages from the system, touched only where a twin differs (rarely) */
    char **differ_bufs = (char **)PyMem_Calloc((size_t)n_twins + 1, sizeof(char *));
    int64_t *differ_counts = PyMem_Calloc((size_t)n_twins + 1, sizeof(int64_t));
    int no_room = !differ_bufs || !differ_counts;
    for (Py_ssize_t t = 0; !no_room && t < n_twins; t++) no_room = !(differ_bufs[t] = calloc((size_t)n_bp7 + 1, 1));
    if (no_room) {
        for (Py_ssize_t t = 0; differ_bufs && t < n_twins; t++) free(differ_bufs[t]);
        PyMem_Free(differ_bufs);
        PyMem_Free(differ_counts);
        PyErr_NoMemory();
        goto done;
    }
    u.slots = calloc(1024, 8); /* grown as units come */
    u.text = PyMem_Malloc((size_t)(n_bpi + 1) * sizeof(char *));
    u.length = PyMem_Malloc((size_t)(n_bpi + 1) * 4);
    u.mask = 1023;
    int32_t *bpi_code = PyMem_Malloc((size_t)(n_bpi + 1) * 4);
    Sequence seq_bpi = {malloc((size_t)(n_bpi + 1) * 4), -1, 0}, seq_bp7 = {malloc((size_t)(n_bpi + 1) * 4), -1, 0};
    if (!u.slots || !u.text || !u.length || !bpi_code || !seq_bpi.next || !seq_bp7.next) {
        free(seq_bpi.next);
        free(seq_bp7.next);
        PyMem_Free(bpi_code);
        for (Py_ssize_t t = 0; t < n_twins; t++) free(differ_bufs[t]);
        PyMem_Free(differ_bufs);
        PyMem_Free(differ_counts);
        PyErr_NoMemory();
        goto done;
    }
    int too_wide = 0, out_of_memory = 0;
    Py_BEGIN_ALLOW_THREADS
    uint8_t *bpi_chunk = chunk_of_rows(&bpi_units, n_bpi);
    for (Py_ssize_t i = 0, r = 0; i < bpi_units.n; i++) {
        const Chunk *k = &bpi_units.chunks[i];
        for (int64_t at = k->offset; at < k->offset + k->length; at++, r++) {
            int32_t n;
            const char *p = string_at(k, at, &n);
            int64_t code = predicted(&u, &seq_bpi, p, n);
            if (code < 0) code = unit_code(&u, p, n, 1);
            if (code < 0) out_of_memory = 1;
            follow(&seq_bpi, code);
            bpi_code[r] = (int32_t)code;
        }
    }
    if (out_of_memory) too_wide = 1; /* no table: reported below */
    int64_t span = high - low + 1;
    if (n_bpi && (span <= 0 || (double)span * (double)u.n_codes > (double)max_slots)) too_wide = 1;
    if (!too_wide) table = malloc((size_t)(n_bpi ? span * u.n_codes : 1) * 4);
    if (table) {
        memset(table, 0xff, (size_t)(n_bpi ? span * u.n_codes : 1) * 4); /* -1: no BPI */
        for (int64_t r = n_bpi - 1; r >= 0; r--) /* backwards: the first BPI of a period and unit stays */
            table[(p_bpi[r] - low) * u.n_codes + bpi_code[r]] = (int32_t)r;
        int64_t *match = (int64_t *)match_buf;
        for (Py_ssize_t i = 0, r = 0; i < bp7_units.n; i++) {
            const Chunk *k = &bp7_units.chunks[i];
            for (int64_t at = k->offset; at < k->offset + k->length; at++, r++) {
                int32_t n;
                const char *p = string_at(k, at, &n);
                int64_t code = n_bpi ? predicted(&u, &seq_bp7, p, n) : -1;
                if (code < 0 && n_bpi) code = unit_code(&u, p, n, 0);
                follow(&seq_bp7, code);
                int64_t period = p_bp7[r];
                int64_t row = code >= 0 && period >= low && period <= high ? table[(period - low) * u.n_codes + code] : -1;
                match[r] = row;
                if (row >= 0) used_buf[row] = 1;
            }
        }
        /* BP7 rows in order of period: the BPI rows of one period are together, so a twin column's
         * reads of BPI stay in one period's rows (in cache) rather than sweeping the column per party */
        int32_t *order = n_bpi > 0 ? malloc((size_t)(n_bp7 + 1) * 4) : NULL;
        int64_t *place = span > 0 ? calloc((size_t)span + 1, 8) : NULL;
        uint8_t *bp7_chunk = chunk_of_rows(&bp7_units, n_bp7);
        int64_t n_order = 0;
        if (order && place) {
            for (int64_t r = 0; r < n_bp7; r++)
                if (match[r] >= 0) place[p_bp7[r] - low + 1]++;
            for (int64_t p = 0; p < span; p++) place[p + 1] += place[p];
            for (int64_t r = 0; r < n_bp7; r++)
                if (match[r] >= 0) order[place[p_bp7[r] - low]++] = (int32_t)r;
            n_order = place[span - 1];
        } else if (order) { /* no room to sort: file order */
            for (int64_t r = 0; r < n_bp7; r++)
                if (match[r] >= 0) order[n_order++] = (int32_t)r;
        }
        Twin *twins = order ? calloc((size_t)n_twins + 1, sizeof(Twin)) : NULL;
        for (Py_ssize_t t = 0; twins && t < n_twins; t++) {
            Twin *twin = &twins[t];
            *twin = (Twin){kinds[t], &views[3 * t], &views[3 * t + 1], views[3 * t + 2].chunks ? &views[3 * t + 2] : NULL,
                           NULL, NULL, NULL};
            twin->bpi_chunk = bpi_chunk && aligned(twin->bpi, &bpi_units) ? bpi_chunk : NULL;
            twin->bp7_chunk = bp7_chunk && aligned(twin->bp7, &bp7_units) ? bp7_chunk : NULL;
            twin->blank_chunk = bp7_chunk && twin->blank && aligned(twin->blank, &bp7_units) ? bp7_chunk : NULL;
        }
        int64_t *later_counts = twins ? calloc((size_t)n_twins + 1, sizeof(int64_t)) : NULL;
        if (twins && later_counts) {
            /* the rows in two halves (the earlier and the later periods), the later in a second
             * thread (the other core is mostly idle by now: the join is the last step of a parse).
             * By rows, not by columns: the text column (a blank BPI value read as BP7's unit id)
             * costs as much as the four numbers together, so halves of the columns were uneven */
            Comparison earlier = {twins, n_twins, order, 0, n_order / 2, match, differ_bufs, differ_counts};
            Comparison later = earlier;
            later.begin = earlier.end, later.end = n_order, later.counts = later_counts;
            pthread_t helper;
            int helped = n_order >= 4096 && pthread_create(&helper, NULL, compare_twins, &later) == 0;
            compare_twins(&earlier);
            if (helped) pthread_join(helper, NULL);
            else compare_twins(&later);
            for (Py_ssize_t t = 0; t < n_twins; t++) differ_counts[t] += later_counts[t];
        } else if (twins) out_of_memory = 1;
        free(later_counts);
        if (order && !twins) out_of_memory = 1;
        free(twins);
        if (!order && n_bpi > 0) out_of_memory = 1;
        free(order);
        free(place);
        free(bp7_chunk);
    }
    free(bpi_chunk);
    Py_END_ALLOW_THREADS
    PyMem_Free(bpi_code);
    free(seq_bpi.next);
    free(seq_bp7.next);
    for (Py_ssize_t t = 0; t < n_twins && !out_of_memory; t++) { /* None: the twin agrees on every row */
        PyObject *found = differ_counts[t] ? PyBytes_FromStringAndSize(differ_bufs[t], n_bp7) : Py_NewRef(Py_None);
        if (!found) out_of_memory = 1;
        else PyList_SET_ITEM(differs, t, found);
    }
    for (Py_ssize_t t = 0; t < n_twins; t++) free(differ_bufs[t]);
    PyMem_Free(differ_bufs);
    PyMem_Free(differ_counts);
    if (out_of_memory) {
        PyErr_NoMemory();
        goto done;
    }
    if (too_wide) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (!table) { /* or the units' slots could not grow */
        PyErr_NoMemory();
        goto done;
    }
    result = PyTuple_Pack(3, match_obj, used_obj, differs);
done:
    free(table);
    free(u.slots);
    PyMem_Free(u.text);
    PyMem_Free(u.length);
    view_release(&bpi_units);
    view_release(&bp7_units);
    if (views) {
        for (Py_ssize_t t = 0; t < 3 * n_twins; t++) view_release(&views[t]);
        PyMem_Free(views);
    }
    PyMem_Free(kinds);
    Py_XDECREF(match_obj);
    Py_XDECREF(used_obj);
    Py_XDECREF(differs);
    PyBuffer_Release(&bpi_period);
    PyBuffer_Release(&bp7_period);
    return result;
}

