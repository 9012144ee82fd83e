/* The fields of S0142 records of one type, split and converted in one native pass (records.py).
 *
 * Only the plain form is read here: exactly the layout's fields, each followed by '|', nothing after
 * the last; numbers as -?digits[.digits]. Any line outside that form (a missing or appended field, a
 * carriage return, "1e3", ".5", more digits than the column holds, ...) makes the call return None,
 * and the caller reads the lines with pyarrow's CSV reader instead, which finds and names the line
 * and field to blame. So this never accepts what that reader refuses, and never refuses anything.
 *
 * The same module indexes the lines of a piece and folds them into the IDD checksum (lines.py), and
 * places records under their markers and joins BPI with BP7 (nesting.py; _attach.c and _join.c).
 *
 * Output per column, as Arrow buffers: a validity bitmap (a blank field is NULL) and the values:
 * int64, float64, decimal128 (a number printed with at most `scale` decimals, as its scaled integer),
 * or string offsets (int32) and bytes. The GIL is released while lines are split.
 */
#include "_fields.h"
#include <Python.h>
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
    int64_t longest;   /* the longest string, in bytes */
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
        if (q - p > c->longest) c->longest = q - p;
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

PyObject *new_bytes(Py_ssize_t size, char **data, int zero) {
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
"columns(text, starts, ends, rows, kinds) -> list of (validity, values, offsets, null_count, longest) | None\n\n"
"Split lines `rows` of `text` (line i spans starts[i]:ends[i], int64 buffers, line end excluded) into\n"
"fields; kinds holds one letter a field: s (string), i (int64), f (float64), or a digit: a decimal\n"
"with that scale; longest: a string column's longest value in bytes (0 for numbers). None when any\n"
"line is not of the plain form (see the module's comment).");

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
        PyObject *item = Py_BuildValue("(OOOLL)", c->valid_obj, c->values_obj,
                                       c->offsets_obj ? c->offsets_obj : Py_None, (long long)c->nulls,
                                       (long long)c->longest);
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

static PyMethodDef methods[] = {{"columns", columns, METH_VARARGS, columns_doc},
                                {"index", index_lines, METH_VARARGS, index_doc},
                                {"checksum", checksum, METH_VARARGS, checksum_doc},
                                {"tally", tally, METH_VARARGS, tally_doc},
                                {"join", p114_join, METH_VARARGS, p114_join_doc},
                                {"attach", p114_attach, METH_VARARGS, p114_attach_doc},
                                {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fields",
                                    "S0142 lines indexed and record fields split natively (see records.py).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fields(void) { return PyModule_Create(&module); }
