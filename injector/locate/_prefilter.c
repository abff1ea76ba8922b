/* The locator's byte prefilter in C: read one file and test it for markers.
 *
 * The same test as clues.PREFILTER and clues.MAIN_MARKER, which stay the
 * reference (and the fallback where this module is not built). Reading and
 * scanning run without the GIL, so jobs on other threads carry on meanwhile.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRAINING_MARKER 1
#define MAIN_MARKER 2
#define FIRST_READ (1 << 16)

/* What may stand before an open parenthesis for it to be a training marker. */
static const struct {
    const char *text;
    size_t size;
} markers[] = {
    {"backward", 8}, {".step", 5}, {".fit", 4},
    {".train", 6},   {"scaler", 6}, {"LightningCLI", 12},
};

static int
ends_with_marker(const char *data, size_t at)
{
    /* The markers' last letters, tested first, turn most parentheses away. */
    char last = at ? data[at - 1] : 0;
    if (!(last == 'd' || last == 'p' || last == 't' || last == 'n' ||
          last == 'r' || last == 'I'))
        return 0;
    for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
        size_t size = markers[i].size;
        if (size <= at && memcmp(data + at - size, markers[i].text, size) == 0)
            return 1;
    }
    return 0;
}

static int
find_markers(const char *data, size_t size)
{
    int found = 0;
    const char *cursor = data, *end = data + size;
    while ((cursor = memchr(cursor, '(', (size_t)(end - cursor))) != NULL) {
        if (ends_with_marker(data, (size_t)(cursor - data))) {
            found |= TRAINING_MARKER;
            break;
        }
        cursor++;
    }
    if (memmem(data, size, "__main__", 8) != NULL)
        found |= MAIN_MARKER;
    return found;
}

/* The whole file into *buffer (malloc'd), its size into *size; -1 on error. */
static int
read_file(int handle, char **buffer, size_t *size)
{
    size_t capacity = FIRST_READ, used = 0;
    char *data = malloc(capacity);
    if (data == NULL)
        return -1;
    for (;;) {
        if (used == capacity) {
            char *grown = realloc(data, capacity * 4);
            if (grown == NULL) {
                free(data);
                errno = ENOMEM;
                return -1;
            }
            data = grown;
            capacity *= 4;
        }
        ssize_t got = read(handle, data + used, capacity - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int saved = errno;
            free(data);
            errno = saved;
            return -1;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    *buffer = data;
    *size = used;
    return 0;
}

static PyObject *
read_marked(PyObject *module, PyObject *path_argument)
{
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(path_argument, &path))
        return NULL;
    char *data = NULL;
    size_t size = 0;
    int failed, saved_errno = 0, found = 0;
    Py_BEGIN_ALLOW_THREADS
    int handle = open(PyBytes_AS_STRING(path), O_RDONLY | O_CLOEXEC);
    failed = handle < 0 || read_file(handle, &data, &size) < 0;
    saved_errno = errno;
    if (handle >= 0)
        close(handle);
    if (!failed)
        found = find_markers(data, size);
    Py_END_ALLOW_THREADS
    if (failed) {
        errno = saved_errno;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path_argument);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    PyObject *result;
    if (found)
        result = Py_BuildValue("(iy#)", found, data, (Py_ssize_t)size);
    else
        result = Py_BuildValue("(iO)", found, Py_None);
    free(data);
    return result;
}

static PyMethodDef methods[] = {
    {"read_marked", read_marked, METH_O,
     "read_marked(path) -> (flags, data or None): 1 for a training marker, "
     "2 for __main__; the bytes come back only when a flag is set."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef prefilter_module = {
    PyModuleDef_HEAD_INIT, "_prefilter",
    "The locator's byte prefilter, read and tested in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__prefilter(void)
{
    PyObject *module = PyModule_Create(&prefilter_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddIntConstant(module, "TRAINING_MARKER", TRAINING_MARKER) < 0 ||
        PyModule_AddIntConstant(module, "MAIN_MARKER", MAIN_MARKER) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
