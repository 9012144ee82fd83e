/* What the parts of the _fields module share (_fields.c, _join.c, _attach.c). */
#ifndef P114_FIELDS_H
#define P114_FIELDS_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define new_bytes p114_new_bytes /* one name outside the module's files */

/* A new bytes object of `size` bytes (zeroed when `zero`), its data at *data; NULL on failure. */
PyObject *new_bytes(Py_ssize_t size, char **data, int zero);

PyObject *p114_join(PyObject *self, PyObject *args);
extern const char p114_join_doc[];
PyObject *p114_attach(PyObject *self, PyObject *args);
extern const char p114_attach_doc[];

#endif
