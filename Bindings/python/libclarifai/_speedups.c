/* The binding's optional accelerator: a prediction's concepts made as Python objects in one C
 * loop. The pure-Python way (split the library's text, parse each value, make each named tuple
 * through map) costs ~0.8 us a concept (made and freed), more than the library's whole call on a
 * 32-output answer; this costs ~0.35 us. It does not link libclarifai: it reads the block that
 * clarifai_response_outputs_text hands out, at the addresses the binding passes from ctypes.
 * Built when a C compiler and Python's headers are there (setup.py marks it optional); the
 * binding falls back to the pure-Python way without it, with the same results. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The next NUL-terminated field at *cursor, within end; NULL (ValueError set) past the end. */
static const char *next_field(const char **cursor, const char *end, Py_ssize_t *length) {
    const char *start = *cursor;
    const char *nul = start < end ? memchr(start, '\0', (size_t)(end - start)) : NULL;
    if (nul == NULL) {
        PyErr_SetString(PyExc_ValueError, "the concepts text ends inside a concept");
        return NULL;
    }
    *length = nul - start;
    *cursor = nul + 1;
    return start;
}

/* A field as str, reusing `previous` when its bytes are the same (the app_id of every concept,
 * mostly): a new reference, or NULL with the error set. */
static PyObject *text_field(const char *start, Py_ssize_t length, PyObject *previous,
                            const char **previous_start, Py_ssize_t *previous_length) {
    if (previous != NULL && length == *previous_length && memcmp(start, *previous_start, (size_t)length) == 0) {
        Py_INCREF(previous);
        return previous;
    }
    *previous_start = start;
    *previous_length = length;
    return PyUnicode_DecodeUTF8(start, length, "replace");
}

/* concepts(text, length, counts, outputs, concept_type) -> list of lists of concept_type
 * text, counts: addresses of clarifai_response_outputs_text's block and concept counts. */
static PyObject *concepts(PyObject *module, PyObject *args) {
    (void)module;
    unsigned long long text_address, counts_address;
    Py_ssize_t length, outputs;
    PyTypeObject *type;
    if (!PyArg_ParseTuple(args, "KnKnO!", &text_address, &length, &counts_address, &outputs, &PyType_Type, &type))
        return NULL;
    if (!PyType_IsSubtype(type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "concept_type must be a tuple type");
        return NULL;
    }
    if (length < 0 || outputs < 0 || (length > 0 && text_address == 0) || (outputs > 0 && counts_address == 0)) {
        PyErr_SetString(PyExc_ValueError, "no concepts text or counts at the addresses given");
        return NULL;
    }
    const char *cursor = (const char *)(uintptr_t)text_address, *end = cursor + length;
    const size_t *counts = (const size_t *)(uintptr_t)counts_address;
    PyObject *result = PyList_New(outputs);
    if (result == NULL) return NULL;
    PyObject *last_app_id = NULL;  /* borrowed from the last concept made */
    const char *app_start = NULL;
    Py_ssize_t app_length = -1;
    for (Py_ssize_t output = 0; output < outputs; output++) {
        if (counts[output] > (size_t)(end - cursor) / 4) {  /* each concept takes 4 bytes at least */
            PyErr_SetString(PyExc_ValueError, "more concepts counted than the text holds");
            goto fail;
        }
        Py_ssize_t count = (Py_ssize_t)counts[output];
        PyObject *list = PyList_New(count);
        if (list == NULL) goto fail;
        PyList_SET_ITEM(result, output, list);
        for (Py_ssize_t index = 0; index < count; index++) {
            Py_ssize_t lengths[4];
            const char *fields[4];
            for (int field = 0; field < 4; field++)
                if ((fields[field] = next_field(&cursor, end, &lengths[field])) == NULL) goto fail;
            PyObject *concept = type->tp_alloc(type, 4);
            if (concept == NULL) goto fail;
            PyList_SET_ITEM(list, index, concept);
            PyObject *id = PyUnicode_DecodeUTF8(fields[0], lengths[0], "replace");
            if (id == NULL) goto fail;
            PyTuple_SET_ITEM(concept, 0, id);
            PyObject *name = PyUnicode_DecodeUTF8(fields[1], lengths[1], "replace");
            if (name == NULL) goto fail;
            PyTuple_SET_ITEM(concept, 1, name);
            /* The library writes the shortest decimal that reads back as the float ("0.87",
               "nan", "inf", "-inf"): read as float() reads it. */
            double number = PyOS_string_to_double(fields[2], NULL, NULL);
            if (number == -1.0 && PyErr_Occurred()) goto fail;
            PyObject *value = PyFloat_FromDouble(number);
            if (value == NULL) goto fail;
            PyTuple_SET_ITEM(concept, 2, value);
            PyObject *app_id = text_field(fields[3], lengths[3], last_app_id, &app_start, &app_length);
            if (app_id == NULL) goto fail;
            PyTuple_SET_ITEM(concept, 3, app_id);
            last_app_id = app_id;
        }
    }
    return result;
fail:
    Py_DECREF(result);  /* lists and concepts made so far, partly filled ones included */
    return NULL;
}

static PyMethodDef methods[] = {
    {"concepts", concepts, METH_VARARGS,
     "concepts(text, length, counts, outputs, concept_type): the concepts of each output, from the "
     "addresses of clarifai_response_outputs_text's block and counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "libclarifai._speedups", NULL, 0, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
