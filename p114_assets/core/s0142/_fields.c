/* The fields of S0142 records of one type, split and converted in one native pass (records.py).
 *
 * Only the plain form is read here: exactly the layout's fields, each followed by '|', nothing after
 * the last; numbers as -?digits[.digits]. Any line outside that form (a missing or appended field, a
 * carriage return, "1e3", ".5", more digits than the column holds, ...) makes the call return None,
 * and the caller reads the lines with pyarrow's CSV reader instead, which finds and names the line
 * and field to blame. So this never accepts what that reader refuses, and never refuses anything.
 *
 * The same module indexes the lines of a piece and folds them into the IDD checksum (lines.py).
 *
 * Output per column, as Arrow buffers: a validity bitmap (a blank field is NULL) and the values:
 * int64, float64, decimal128 (a number printed with at most `scale` decimals, as its scaled integer),
 * or string offsets (int32) and bytes. The GIL is released while lines are split.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checksum reads words little-endian"
#endif

static const uint64_t UPOW10[19] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL};
static const double DPOW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define MAX_NUMBER_CHARS 24 /* longer numbers go to the general reader */

enum { STRING = 's', INT = 'i', FLOAT = 'f' }; /* a digit '0'..'9': decimal with that scale */

typedef struct {
    char kind;
    int scale;
    uint8_t *valid;
    int64_t nulls;
    char *values;      /* 8 or 16 bytes a row, or string bytes */
    int32_t *offsets;  /* strings */
    int64_t used;      /* string bytes */
    PyObject *valid_obj, *values_obj, *offsets_obj;
} Column;

static inline int is_digit(char c) { return (unsigned char)(c - '0') <= 9; }

/* Each reader below converts the field that starts at p and returns where it ends (its '|'), or NULL
 * when the field is not of the plain form or the line ends (at e) before its '|'. */

static const char *read_int(const char *p, const char *e, int64_t *out) {
    const char *start = p;
    int neg = *p == '-';
    p += neg;
    const char *digits = p;
    uint64_t v = 0;
    for (; p < e && is_digit(*p); p++) v = v * 10 + (uint64_t)(*p - '0');
    if (p == e || *p != '|' || p == digits || p - digits > 18 || p - start > MAX_NUMBER_CHARS) return NULL;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return p;
}

/* -?digits[.digits] with at most `scale` decimals that are not trailing zeros, below 10^18 units, and
 * at most 18 digits written (leading zeros of the integer part aside) */
static const char *read_decimal(const char *p, const char *e, int scale, int64_t *out) {
    const char *start = p;
    int neg = *p == '-';
    p += neg;
    const char *digits = p;
    uint64_t v = 0;
    for (; p < e && *p == '0'; p++) {}
    const char *significant = p;
    for (; p < e && is_digit(*p); p++) v = v * 10 + (uint64_t)(*p - '0');
    if (p == digits || p - significant > 18 - scale || p == e) return NULL;
    int decimals = 0;
    if (*p == '.') {
        const char *point = ++p;
        for (; p < e && is_digit(*p); p++) {
            if (decimals < scale) {
                v = v * 10 + (uint64_t)(*p - '0');
                decimals++;
            } else if (*p != '0') {
                return NULL; /* more decimals than the column: the general reader names it */
            }
        }
        if (p == point || p == e) return NULL;
        /* pyarrow refuses a number of more than 18 digits (trailing zeros too) for these columns */
        if ((p - point) + (point - 1 - significant) > 18) return NULL;
    }
    if (*p != '|' || p - start > MAX_NUMBER_CHARS) return NULL;
    v *= UPOW10[scale - decimals];
    *out = neg ? -(int64_t)v : (int64_t)v;
    return p;
}

/* -?digits[.digits] with at most 15 significant digits and 22 decimals: one correctly rounded
 * division of two exact doubles (Clinger's fast path), as exact as any correctly rounded reader. */
static const char *read_float(const char *p, const char *e, double *out) {
    const char *start = p;
    int neg = *p == '-';
    p += neg;
    const char *digits = p;
    uint64_t v = 0;
    for (; p < e && *p == '0'; p++) {}
    const char *significant = p;
    for (; p < e && is_digit(*p); p++) v = v * 10 + (uint64_t)(*p - '0');
    if (p == digits || p == e) return NULL;
    int length = (int)(p - significant), decimals = 0;
    if (*p == '.') {
        const char *point = ++p;
        for (; p < e && is_digit(*p); p++) {
            if (v == 0 && *p == '0') {
                decimals++; /* a leading zero of the fraction is not significant */
                continue;
            }
            v = v * 10 + (uint64_t)(*p - '0');
            length++;
            decimals++;
        }
        if (p == point || p == e) return NULL;
    }
    if (*p != '|' || length > 15 || decimals > 22 || p - start > MAX_NUMBER_CHARS) return NULL;
    double d = (double)v / DPOW10[decimals];
    *out = neg ? -d : d;
    return p;
}

static const char *read_field(Column *c, int64_t row, const char *p, const char *e) {
    if (p < e && *p == '|') { /* blank: NULL */
        c->nulls++;
        if (c->kind == STRING) {
            c->offsets[row + 1] = (int32_t)c->used;
        } else {
            size_t size = c->kind == INT || c->kind == FLOAT ? 8 : 16;
            memset(c->values + row * size, 0, size);
        }
        return p;
    }
    c->valid[row >> 3] |= (uint8_t)(1u << (row & 7));
    switch (c->kind) {
    case STRING: {
        const char *q = p;
        for (; q < e && *q != '|'; q++)
            if (*q == '\r') return NULL; /* a CSV reader would end the line there */
        if (q == e) return NULL;
        memcpy(c->values + c->used, p, (size_t)(q - p));
        c->used += q - p;
        c->offsets[row + 1] = (int32_t)c->used;
        return q;
    }
    case INT:
        return read_int(p, e, (int64_t *)c->values + row);
    case FLOAT:
        return read_float(p, e, (double *)c->values + row);
    default: {
        int64_t v = 0;
        const char *q = read_decimal(p, e, c->scale, &v);
        int64_t *slot = (int64_t *)c->values + 2 * row; /* decimal128: low word, then the sign */
        slot[0] = v;
        slot[1] = v < 0 ? -1 : 0;
        return q;
    }
    }
}

static int split(const char *text, const int64_t *starts, const int64_t *ends, const int64_t *rows,
                 Py_ssize_t n_rows, Column *cols, int width) {
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        int64_t line = rows[r];
        const char *p = text + starts[line] + 4, *e = text + ends[line]; /* past "XXX|" */
        if (p > e) return 0;
        for (int f = 0; f < width; f++) {
            if (p >= e || !(p = read_field(&cols[f], r, p, e))) return 0;
            p++; /* past the '|' */
        }
        if (p != e) return 0; /* an appended field, or text after the last '|' */
    }
    return 1;
}

static PyObject *new_bytes(Py_ssize_t size, char **data, int zero) {
    PyObject *obj = PyBytes_FromStringAndSize(NULL, size);
    if (obj) {
        *data = PyBytes_AS_STRING(obj);
        if (zero) memset(*data, 0, (size_t)size);
    }
    return obj;
}

static void release(Column *cols, int width) {
    for (int f = 0; f < width; f++) {
        Py_XDECREF(cols[f].valid_obj);
        Py_XDECREF(cols[f].values_obj);
        Py_XDECREF(cols[f].offsets_obj);
    }
    PyMem_Free(cols);
}

PyDoc_STRVAR(columns_doc,
"columns(text, starts, ends, rows, kinds) -> list of (validity, values, offsets, null_count) | None\n\n"
"Split lines `rows` of `text` (line i spans starts[i]:ends[i], int64 buffers, line end excluded) into\n"
"fields; kinds holds one letter a field: s (string), i (int64), f (float64), or a digit: a decimal\n"
"with that scale. None when any line is not of the plain form (see the module's comment).");

static PyObject *columns(PyObject *self, PyObject *args) {
    Py_buffer text, starts, ends, rows;
    const char *kinds;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*y*y*s#", &text, &starts, &ends, &rows, &kinds, &width)) return NULL;
    PyObject *result = NULL;
    Column *cols = NULL;
    Py_ssize_t n_rows = rows.len / 8, n_lines = starts.len / 8;
    if (ends.len != starts.len || width <= 0) {
        PyErr_SetString(PyExc_ValueError, "starts and ends differ in length, or no fields");
        goto done;
    }
    const int64_t *row_index = rows.buf, *s = starts.buf, *e = ends.buf;
    int64_t text_bytes = 0;
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        int64_t line = row_index[r];
        if (line < 0 || line >= n_lines || s[line] < 0 || e[line] > text.len || s[line] > e[line]) {
            PyErr_SetString(PyExc_ValueError, "a row outside the text");
            goto done;
        }
        text_bytes += e[line] - s[line];
    }
    if (text_bytes > INT32_MAX) { /* string offsets are int32 */
        result = Py_NewRef(Py_None);
        goto done;
    }
    cols = PyMem_Calloc((size_t)width, sizeof(Column));
    if (!cols) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t f = 0; f < width; f++) {
        Column *c = &cols[f];
        char *data;
        c->kind = kinds[f];
        c->scale = is_digit(c->kind) ? c->kind - '0' : 0;
        if (!(c->valid_obj = new_bytes((n_rows + 7) / 8, &data, 1))) goto done;
        c->valid = (uint8_t *)data;
        if (c->kind == STRING) {
            if (!(c->offsets_obj = new_bytes((n_rows + 1) * 4, &data, 0))) goto done;
            c->offsets = (int32_t *)data;
            c->offsets[0] = 0;
            if (!(c->values_obj = new_bytes(text_bytes, &c->values, 0))) goto done; /* an upper bound */
        } else if (c->kind == INT || c->kind == FLOAT || is_digit(c->kind)) {
            if (!(c->values_obj = new_bytes(n_rows * (is_digit(c->kind) ? 16 : 8), &c->values, 0))) goto done;
        } else {
            PyErr_Format(PyExc_ValueError, "unknown field kind %c", c->kind);
            goto done;
        }
    }
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = split(text.buf, s, e, row_index, n_rows, cols, (int)width);
    Py_END_ALLOW_THREADS
    if (!ok) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = PyList_New(width);
    if (!result) goto done;
    for (Py_ssize_t f = 0; f < width; f++) {
        Column *c = &cols[f];
        if (c->kind == STRING && _PyBytes_Resize(&c->values_obj, c->used) < 0) {
            Py_CLEAR(result);
            goto done;
        }
        PyObject *item = Py_BuildValue("(OOOL)", c->valid_obj, c->values_obj,
                                       c->offsets_obj ? c->offsets_obj : Py_None, (long long)c->nulls);
        if (!item) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, f, item);
    }
done:
    if (cols) release(cols, (int)width);
    PyBuffer_Release(&text);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&rows);
    return result;
}


/* ---------------------------------------------------------------------------------------------
 * The line index of a piece (lines.py): where each line starts and ends, and its record code. */

PyDoc_STRVAR(index_doc,
"index(text, skip) -> (starts, ends, codes): bytes of int64, int64 and uint32\n\n"
"Lines.index natively: each line's start (the first at `skip`), its end without LF or CRLF, and its\n"
"first four bytes as a big-endian word (0 for a line shorter).");

static PyObject *index_lines(PyObject *self, PyObject *args) {
    Py_buffer text;
    Py_ssize_t skip;
    if (!PyArg_ParseTuple(args, "y*n", &text, &skip)) return NULL;
    const char *t = text.buf;
    Py_ssize_t size = text.len, n = 0;
    for (const char *p = t, *e = t + size; p < e && (p = memchr(p, '\n', (size_t)(e - p))); p++) n++;
    if (size > skip && t[size - 1] != '\n') n++; /* a last line with no LF */
    PyObject *result = NULL, *objs[3] = {NULL, NULL, NULL};
    char *bufs[3];
    for (int i = 0; i < 3; i++)
        if (!(objs[i] = new_bytes(n * (i == 2 ? 4 : 8), &bufs[i], 0))) goto done;
    int64_t *starts = (int64_t *)bufs[0], *ends = (int64_t *)bufs[1];
    uint32_t *codes = (uint32_t *)bufs[2];
    Py_BEGIN_ALLOW_THREADS
    int64_t start = skip;
    const char *p = t, *e = t + size;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *nl = p < e ? memchr(p, '\n', (size_t)(e - p)) : NULL;
        int64_t end = nl ? nl - t : size;
        starts[i] = start;
        if (end > start && t[end - 1] == '\r') end--;
        ends[i] = end;
        if (end - start >= 4) {
            const unsigned char *b = (const unsigned char *)t + start;
            codes[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        } else {
            codes[i] = 0;
        }
        p = nl ? nl + 1 : e;
        start = p - t;
    }
    Py_END_ALLOW_THREADS
    result = PyTuple_Pack(3, objs[0], objs[1], objs[2]);
done:
    for (int i = 0; i < 3; i++) Py_XDECREF(objs[i]);
    PyBuffer_Release(&text);
    return result;
}

PyDoc_STRVAR(checksum_doc,
"checksum(text, starts, ends, stop) -> int\n\n"
"Lines.checksum natively: the XOR of lines [0, stop) cut into 4-byte big-endian words, each line\n"
"without its line end, its last word padded with NUL bytes.");

static PyObject *checksum(PyObject *self, PyObject *args) {
    Py_buffer text, starts, ends;
    Py_ssize_t stop;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &text, &starts, &ends, &stop)) return NULL;
    PyObject *result = NULL;
    const int64_t *s = starts.buf, *e = ends.buf;
    if (stop < 0 || stop > starts.len / 8 || starts.len != ends.len) {
        PyErr_SetString(PyExc_ValueError, "stop is past the lines, or starts and ends differ in length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < stop; i++)
        if (s[i] < 0 || e[i] > text.len || s[i] > e[i]) {
            PyErr_SetString(PyExc_ValueError, "a line outside the text");
            goto done;
        }
    uint32_t acc = 0;
    Py_BEGIN_ALLOW_THREADS
    const unsigned char *t = text.buf;
    for (Py_ssize_t i = 0; i < stop; i++) {
        const unsigned char *p = t + s[i], *end = t + e[i];
        uint32_t lanes = 0; /* little-endian words XORed: byte k of a word is byte k of the record's */
        for (; end - p >= 4; p += 4) {
            uint32_t w;
            memcpy(&w, p, 4);
            lanes ^= w;
        }
        for (int k = 0; p < end; p++, k++) lanes ^= (uint32_t)*p << (8 * k);
        acc ^= __builtin_bswap32(lanes);
    }
    Py_END_ALLOW_THREADS
    result = PyLong_FromUnsignedLong(acc);
done:
    PyBuffer_Release(&text);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    return result;
}

PyDoc_STRVAR(tally_doc,
"tally(starts, ends, codes, known, limit, zzz) -> (counts, first_over, first_non_blank, last_non_blank,\n"
"    first_zzz, first_non_blank_after_zzz, strange, strange_total)\n\n"
"The checks of a piece's lines in one pass (scan.Scan._check): the count of each known code (known:\n"
"sorted uint32 bytes; counts: int64 bytes), the first line longer than `limit`, the first and last\n"
"non-blank lines, the first ZZZ and the first non-blank line after it, and the first 101 non-blank\n"
"lines with an unknown code and how many there are; -1 where there is none.");

static PyObject *tally(PyObject *self, PyObject *args) {
    Py_buffer starts, ends, codes, known;
    long long limit;
    unsigned long zzz_code;
    if (!PyArg_ParseTuple(args, "y*y*y*y*Lk", &starts, &ends, &codes, &known, &limit, &zzz_code)) return NULL;
    PyObject *result = NULL, *counts_obj = NULL, *strange = NULL;
    Py_ssize_t n = starts.len / 8, n_known = known.len / 4;
    if (ends.len != starts.len || codes.len != n * 4) {
        PyErr_SetString(PyExc_ValueError, "starts, ends and codes differ in length");
        goto done;
    }
    char *counts_buf;
    if (!(counts_obj = new_bytes(n_known * 8, &counts_buf, 1))) goto done;
    int64_t *counts = (int64_t *)counts_buf;
    const int64_t *s = starts.buf, *e = ends.buf;
    const uint32_t *c = codes.buf, *k = known.buf;
    Py_ssize_t first_over = -1, first_nb = -1, last_nb = -1, zzz = -1, after = -1, n_strange = 0;
    Py_ssize_t listed[101];
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t length = e[i] - s[i];
        if (length > limit && first_over < 0) first_over = i;
        int non_blank = length > 0;
        if (non_blank) {
            if (first_nb < 0) first_nb = i;
            last_nb = i;
            if (zzz >= 0 && after < 0) after = i;
        }
        if (c[i] == zzz_code && zzz < 0) zzz = i;
        Py_ssize_t lo = 0, hi = n_known; /* the code's place among the known ones */
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi) / 2;
            if (k[mid] < c[i]) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n_known && k[lo] == c[i]) counts[lo]++;
        else if (non_blank) {
            if (n_strange < 101) listed[n_strange] = i;
            n_strange++;
        }
    }
    Py_END_ALLOW_THREADS
    if (!(strange = PyList_New(n_strange < 101 ? n_strange : 101))) goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(strange); i++) {
        PyObject *item = PyLong_FromSsize_t(listed[i]);
        if (!item) goto done;
        PyList_SET_ITEM(strange, i, item);
    }
    result = Py_BuildValue("(OnnnnnOn)", counts_obj, first_over, first_nb, last_nb, zzz, after, strange, n_strange);
done:
    Py_XDECREF(counts_obj);
    Py_XDECREF(strange);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&codes);
    PyBuffer_Release(&known);
    return result;
}

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

typedef struct { /* the twins first, first + 2, ... compared for the BP7 rows in `order` */
    const Twin *twins;
    Py_ssize_t n_twins, first;
    const int32_t *order;
    int64_t n_order;
    const int64_t *match;
    char **differs;
    int64_t *counts;
} Comparison;

static void *compare_twins(void *arg) {
    const Comparison *c = arg;
    for (Py_ssize_t t = c->first; t < c->n_twins; t += 2) { /* a column at a time */
        const Twin *twin = &c->twins[t];
        int size = twin->kind == 's' ? 4 : twin->kind == 'f' ? 8 : 16; /* of a value, or a string's offset */
        for (int64_t k = 0; k < c->n_order; k++) {
            if (k + PREFETCH < c->n_order) { /* the reads a few rows ahead, so that their misses overlap */
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

PyDoc_STRVAR(join_doc,
"join(bpi_period, bpi_units, bp7_period, bp7_units, twins, max_slots) -> (match, used, differs) | None\n\n"
"BPI with its BP7 twin (nesting.bm_unit_period): periods are int64 buffers; a column is a list of\n"
"chunks (validity or None, values, data or None, offset, length), units strings without nulls.\n"
"twins: (kind, bpi column, bp7 column, blank-means bp7 column or None); kind s (string), f (float64)\n"
"or d (decimal128 of at most 18 digits). match: int64, each BP7 row's first BPI row of its period\n"
"and unit, -1 where none; used: a byte a BPI row, 1 where a BP7 row took it; differs: a byte a BP7\n"
"row for each twin, 1 where matched and unequal (a blank BPI value taken as the blank-means column),\n"
"or None where the twin agrees on every row.\n"
"None when the periods span more than max_slots (periods x units): the general join handles that.");

static PyObject *join(PyObject *self, PyObject *args) {
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
    if (!u.slots || !u.text || !u.length || !bpi_code) {
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
            int64_t code = unit_code(&u, p, n, 1);
            if (code < 0) out_of_memory = 1;
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
                int64_t code = n_bpi ? unit_code(&u, p, n, 0) : -1;
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
        if (twins) {
            /* the twin columns two ways: every other one in a second thread (the other core is
             * mostly idle by now: the join is the last step of a parse) */
            Comparison odd = {twins, n_twins, 1, order, n_order, match, differ_bufs, differ_counts};
            Comparison even = odd;
            even.first = 0;
            pthread_t helper;
            int helped = n_twins > 1 && n_order >= 4096 && pthread_create(&helper, NULL, compare_twins, &odd) == 0;
            compare_twins(&even);
            if (helped) pthread_join(helper, NULL);
            else compare_twins(&odd);
        }
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

/* ---------------------------------------------------------------------------------------------
 * Nesting by order (nesting.Markers.attach): the marker line in force at each record line. */

PyDoc_STRVAR(attach_doc,
"attach(lines, sections, periods, parties, records, section, want_party) -> (period, party, wrong)\n\n"
"For each record line (records: chunks (int64 values, offset, length)), the last marker whose line\n"
"is at or before it (lines: sorted int64; sections: int8; periods, parties: int64 a marker): its\n"
"period and party (int64 bytes; party None unless want_party). wrong: the first record with no\n"
"marker above it, under a marker of another section, or (section 1, a party period) with no party;\n"
"-1 when there is none.");

static PyObject *attach(PyObject *self, PyObject *args) {
    Py_buffer lines, sections, periods, parties;
    PyObject *records;
    int section, want_party;
    if (!PyArg_ParseTuple(args, "y*y*y*y*Oip", &lines, &sections, &periods, &parties, &records, &section, &want_party))
        return NULL;
    PyObject *result = NULL, *period_obj = NULL, *party_obj = NULL;
    Py_ssize_t n_markers = lines.len / 8, n_chunks = 0;
    Py_buffer *views = NULL;
    if (sections.len != n_markers || periods.len != n_markers * 8 || parties.len != n_markers * 8 ||
        !PyList_Check(records)) {
        PyErr_SetString(PyExc_ValueError, "markers differ in length, or records is not a list");
        goto done;
    }
    n_chunks = PyList_GET_SIZE(records);
    views = PyMem_Calloc((size_t)n_chunks + 1, sizeof(Py_buffer));
    long long *offsets = PyMem_Calloc((size_t)n_chunks + 1, sizeof(long long) * 2);
    if (!views || !offsets) {
        PyMem_Free(offsets);
        PyErr_NoMemory();
        goto done;
    }
    int64_t rows = 0;
    Py_ssize_t got = 0;
    for (; got < n_chunks; got++) {
        PyObject *buffer;
        long long offset, length;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(records, got), "OLL", &buffer, &offset, &length)) break;
        if (PyObject_GetBuffer(buffer, &views[got], PyBUF_SIMPLE) < 0) break;
        if (offset < 0 || length < 0 || views[got].len < (offset + length) * 8) {
            PyBuffer_Release(&views[got]);
            PyErr_SetString(PyExc_ValueError, "a chunk's buffer is shorter than its rows");
            break;
        }
        offsets[2 * got] = offset, offsets[2 * got + 1] = length;
        rows += length;
    }
    if (got < n_chunks) {
        n_chunks = got;
        PyMem_Free(offsets);
        goto done;
    }
    char *period_buf, *party_buf = NULL;
    if (!(period_obj = new_bytes(rows * 8, &period_buf, 0)) || (want_party && !(party_obj = new_bytes(rows * 8, &party_buf, 0)))) {
        PyMem_Free(offsets);
        goto done;
    }
    int64_t wrong = -1;
    Py_BEGIN_ALLOW_THREADS
    const int64_t *m = lines.buf, *mp = periods.buf, *mq = parties.buf;
    const int8_t *ms = sections.buf;
    int64_t *period = (int64_t *)period_buf, *party = (int64_t *)party_buf;
    Py_ssize_t j = -1; /* the marker in force */
    int64_t previous = INT64_MIN, r = 0;
    for (Py_ssize_t c = 0; c < n_chunks; c++) {
        const int64_t *x = (const int64_t *)views[c].buf + offsets[2 * c];
        for (int64_t i = 0; i < offsets[2 * c + 1]; i++, r++) {
            int64_t line = x[i];
            if (line < previous) { /* out of order: search again from the start */
                Py_ssize_t lo = 0, hi = n_markers;
                while (lo < hi) {
                    Py_ssize_t mid = (lo + hi) / 2;
                    if (m[mid] <= line) lo = mid + 1;
                    else hi = mid;
                }
                j = lo - 1;
            }
            while (j + 1 < n_markers && m[j + 1] <= line) j++;
            previous = line;
            int bad = j < 0 || ms[j] != section || (section == 1 && mq[j] < 0);
            if (bad && wrong < 0) wrong = r;
            period[r] = j < 0 ? 0 : mp[j];
            if (party) party[r] = j < 0 ? -1 : mq[j];
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(offsets);
    result = Py_BuildValue("(OOL)", period_obj, party_obj ? party_obj : Py_None, (long long)wrong);
done:
    for (Py_ssize_t c = 0; c < n_chunks; c++) PyBuffer_Release(&views[c]);
    PyMem_Free(views);
    Py_XDECREF(period_obj);
    Py_XDECREF(party_obj);
    PyBuffer_Release(&lines);
    PyBuffer_Release(&sections);
    PyBuffer_Release(&periods);
    PyBuffer_Release(&parties);
    return result;
}

static PyMethodDef methods[] = {{"columns", columns, METH_VARARGS, columns_doc},
                                {"index", index_lines, METH_VARARGS, index_doc},
                                {"checksum", checksum, METH_VARARGS, checksum_doc},
                                {"tally", tally, METH_VARARGS, tally_doc},
                                {"join", join, METH_VARARGS, join_doc},
                                {"attach", attach, METH_VARARGS, attach_doc},
                                {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fields",
                                    "S0142 lines indexed and record fields split natively (see records.py).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fields(void) { return PyModule_Create(&module); }
