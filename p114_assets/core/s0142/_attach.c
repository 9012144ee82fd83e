/* Records placed under their markers: part of the _fields module (see _fields.c and nesting.py). */
#include "_fields.h"

/* ---------------------------------------------------------------------------------------------
 * Nesting by order (nesting.Markers.attach): the marker line in force at each record line. */

const char p114_attach_doc[] = PyDoc_STR(
"attach(lines, sections, periods, parties, records, section, want_party) -> (period, party, wrong)\n\n"
"For each record line (records: chunks (int64 values, offset, length)), the last marker whose line\n"
"is at or before it (lines: sorted int64; sections: int8; periods, parties: int64 a marker): its\n"
"period and party (int64 bytes; party None unless want_party). wrong: the first record with no\n"
"marker above it, under a marker of another section, or (section 1, a party period) with no party;\n"
"-1 when there is none.");

PyObject *p114_attach(PyObject *self, PyObject *args) {
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

