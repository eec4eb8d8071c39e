/* The binding's optional accelerator: a prediction's concepts made as Python objects (of its
 * Concept type) in one C loop, and a batch's array of clarifai_input made in another. The
 * pure-Python way (split the library's text, parse each value, make each concept of the binding's
 * Python class) costs ~0.9 us a concept (made and freed), more than the library's whole call on a
 * 32-output answer; this costs ~0.05 us; filling the ctypes array costs ~2.8 us an input, this
 * ~0.3 us. It does not link libclarifai: it reads the block that clarifai_response_outputs_text
 * hands out, at the addresses the binding passes from ctypes, and writes clarifai_input as the
 * binding declares it. Built when a C compiler and Python's headers are there (setup.py marks it
 * optional); the binding falls back to the pure-Python way without it, with objects that behave
 * the same. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* The next NUL-terminated field at *cursor, within end; NULL (ValueError set) past the end.
 * Fields are short (ids, names, values): a word of 8 bytes is looked at once while it lies within
 * the block, rather than calling memchr per field. */
static const char *next_field(const char **cursor, const char *end, Py_ssize_t *length) {
    const char *start = *cursor, *p = start;
    for (; end - p >= 8; p += 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        /* The lowest bit set marks the first zero byte (a borrow only marks bytes after it). */
        uint64_t zeros = (word - 0x0101010101010101ull) & ~word & 0x8080808080808080ull;
        if (zeros) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            p += __builtin_ctzll(zeros) / 8;
#endif
            break;
        }
    }
    while (p < end && *p != '\0') p++;
    if (p == end) {
        PyErr_SetString(PyExc_ValueError, "the concepts text ends inside a concept");
        return NULL;
    }
    *length = p - start;
    *cursor = p + 1;
    return start;
}

/* Concept ids and names repeat (a model's concepts, in every output of every answer): each is
 * made once as a str and kept in the module's state for the next field with the same bytes (a
 * str is immutable: sharing one is invisible). Kept: strings of at most TEXT_KEPT_BYTES bytes
 * whose UTF-8 is the field's (not those decoded with replacements), in TEXT_SETS sets of two,
 * picked by a hash of the bytes; a set's last-used string first, a new one replacing the other.
 * As long as the module lives (one per interpreter: multi-phase initialization). */
#define TEXT_SET_BITS 11
#define TEXT_SETS (1 << TEXT_SET_BITS)
#define TEXT_KEPT_BYTES 64
typedef struct {
    uint64_t hash;
    PyObject *text;
} text_slot;

typedef struct {
    text_slot slots[TEXT_SETS][2];
} module_state;

/* A hash of up to TEXT_KEPT_BYTES bytes, read 8 at a time (the last word overlapping the one
 * before it; under 8 bytes, two overlapping 4-byte reads or single bytes). A multiplication carries
 * bits only upward: a set is picked by the top bits, which every byte reaches. */
static uint64_t text_hash(const char *start, Py_ssize_t length) {
    const uint64_t factor = 0x9E3779B97F4A7C15ull;
    uint64_t hash = (uint64_t)length * factor, word;
    if (length >= 8) {
        for (Py_ssize_t at = 0; at < length; at += 8) {
            memcpy(&word, start + (at + 8 <= length ? at : length - 8), 8);
            hash = (hash ^ word) * factor;
        }
    } else if (length >= 4) {
        uint32_t first, last;
        memcpy(&first, start, 4);
        memcpy(&last, start + length - 4, 4);
        hash = (hash ^ ((uint64_t)first << 32 | last)) * factor;
    } else {
        word = 0;
        for (Py_ssize_t at = 0; at < length; at++) word = word << 8 | (unsigned char)start[at];
        hash = (hash ^ word) * factor;
    }
    return hash;
}

/* Whether str `text` is made of exactly these UTF-8 bytes. */
static int same_text(PyObject *text, const char *start, Py_ssize_t length) {
    Py_ssize_t size;
    const char *bytes;
    if (PyUnicode_IS_COMPACT_ASCII(text)) {
        size = PyUnicode_GET_LENGTH(text);
        bytes = (const char *)PyUnicode_DATA(text);
    } else if ((bytes = PyUnicode_AsUTF8AndSize(text, &size)) == NULL) {  /* kept once, as made */
        PyErr_Clear();
        return 0;
    }
    if (size != length) return 0;
    /* As text_hash reads them (a call to memcmp costs more than these few words). */
    uint64_t kept, field;
    if (length >= 8) {
        for (Py_ssize_t at = 0; at < length; at += 8) {
            Py_ssize_t word_at = at + 8 <= length ? at : length - 8;
            memcpy(&kept, bytes + word_at, 8);
            memcpy(&field, start + word_at, 8);
            if (kept != field) return 0;
        }
        return 1;
    }
    if (length >= 4) {
        uint32_t kept_first, kept_last, first, last;
        memcpy(&kept_first, bytes, 4);
        memcpy(&kept_last, bytes + length - 4, 4);
        memcpy(&first, start, 4);
        memcpy(&last, start + length - 4, 4);
        return kept_first == first && kept_last == last;
    }
    return memcmp(bytes, start, (size_t)length) == 0;
}

/* A field as str (decoded as the binding decodes it: UTF-8, invalid bytes replaced): a new
 * reference, or NULL with the error set. */
static PyObject *text_field(module_state *state, const char *start, Py_ssize_t length) {
    if (length > TEXT_KEPT_BYTES) return PyUnicode_DecodeUTF8(start, length, "replace");
    uint64_t hash = text_hash(start, length);
    text_slot *set = state->slots[hash >> (64 - TEXT_SET_BITS)];
    for (int way = 0; way < 2; way++) {
        if (set[way].text != NULL && set[way].hash == hash && same_text(set[way].text, start, length)) {
            if (way == 1) {  /* the last used first */
                text_slot used = set[1];
                set[1] = set[0];
                set[0] = used;
            }
            Py_INCREF(set[0].text);
            return set[0].text;
        }
    }
    PyObject *text = PyUnicode_DecodeUTF8(start, length, "replace");
    if (text == NULL || !same_text(text, start, length)) return text;  /* replaced bytes: not kept */
    PyObject *dropped = set[1].text;
    set[1] = set[0];
    set[0].hash = hash;
    set[0].text = text;
    Py_INCREF(text);
    Py_XDECREF(dropped);
    return text;
}

/* A concept's value from its text: what PyOS_string_to_double reads (NULL on error, set).
 * The library writes at most 9 significant digits with a short exponent, which Clinger's fast
 * path reads exactly: a mantissa under 2^53 times or divided by a power of ten up to 10^22, both
 * exact doubles, rounded once. Other text (nan, inf, longer, errors) goes to Python's reader. */
static PyObject *value_field(const char *text, Py_ssize_t length) {
    static const double powers[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = text, *end = text + length;
    /* A score's usual form, 0.d to 0.ddddddddd, read first in a loop of its own. */
    if (length >= 3 && length <= 11 && text[0] == '0' && text[1] == '.') {
        long long fraction = 0;
        for (p = text + 2; p < end && *p >= '0' && *p <= '9'; p++) fraction = fraction * 10 + (*p - '0');
        if (p == end) return PyFloat_FromDouble((double)fraction / powers[length - 2]);
        p = text;
    }
    int negative = p < end && *p == '-';
    p += negative;
    long long mantissa = 0;
    int digits = 0, significant = 0, exponent = 0, seen_point = 0;
    for (; p < end; p++) {
        if (*p == '.' && !seen_point) {
            seen_point = 1;
            continue;
        }
        if (*p < '0' || *p > '9') break;
        digits++;
        if (mantissa == 0 && *p == '0') {
            exponent -= seen_point;
            continue;
        }
        if (++significant > 15) goto slow;
        mantissa = mantissa * 10 + (*p - '0');
        exponent -= seen_point;
    }
    if (digits == 0) goto slow;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int exponent_negative = p < end && *p == '-';
        p += p < end && (*p == '-' || *p == '+');
        int written = 0, exponent_digits = 0;
        for (; p < end && *p >= '0' && *p <= '9' && exponent_digits < 4; p++, exponent_digits++) written = written * 10 + (*p - '0');
        if (exponent_digits == 0) goto slow;
        exponent += exponent_negative ? -written : written;
    }
    if (p != end || exponent < -22 || exponent > 22) goto slow;
    double value = exponent < 0 ? (double)mantissa / powers[-exponent] : (double)mantissa * powers[exponent];
    return PyFloat_FromDouble(negative ? -value : value);
slow:;
    double number = PyOS_string_to_double(text, NULL, NULL);
    if (number == -1.0 && PyErr_Occurred()) return NULL;
    return PyFloat_FromDouble(number);
}

/* Concept: a concept's id, name, value and app_id, immutable; as the binding's Python class of the
 * same name (used without this file) behaves: fields read by name or index, unpacked, compared and
 * hashed as the tuple of them (equal to that tuple), pickled. A type of its own rather than a tuple
 * subclass: its fields are made exact str and float, which hold nothing, so no reference cycle can
 * go through a concept and the garbage collector need not know it (a tuple subclass is allocated
 * for the collector, and hundreds per call set it off); read through member descriptors, which the
 * interpreter reads as fast as slots. Not subclassable: a subclass could hold references. */
enum { CONCEPT_ID, CONCEPT_NAME, CONCEPT_VALUE, CONCEPT_APP_ID, CONCEPT_FIELDS };
static const char *const concept_names[CONCEPT_FIELDS] = {"id", "name", "value", "app_id"};

typedef struct {
    PyObject_HEAD
    PyObject *fields[CONCEPT_FIELDS];
} concept_object;

static PyTypeObject concept_type;

/* A concept of these four new references (taken over, all set). */
static PyObject *concept_of(PyObject *fields[CONCEPT_FIELDS]) {
    concept_object *concept = PyObject_New(concept_object, &concept_type);
    if (concept == NULL) {
        for (int field = 0; field < CONCEPT_FIELDS; field++) Py_DECREF(fields[field]);
        return NULL;
    }
    memcpy(concept->fields, fields, sizeof concept->fields);
    return (PyObject *)concept;
}

/* A field as a concept keeps it: the value as an exact float (from a float or an int), the others
 * as exact str; a new reference, or NULL with TypeError. */
static PyObject *concept_field(int field, PyObject *given) {
    if (field == CONCEPT_VALUE) {
        if (PyFloat_CheckExact(given)) {
            Py_INCREF(given);
            return given;
        }
        if (PyFloat_Check(given) || PyLong_Check(given)) return PyNumber_Float(given);
        return PyErr_Format(PyExc_TypeError, "Concept value must be a number, not %.100s", Py_TYPE(given)->tp_name);
    }
    if (PyUnicode_Check(given)) return PyUnicode_FromObject(given);  /* a subclass's as an exact str */
    return PyErr_Format(PyExc_TypeError, "Concept %s must be a str, not %.100s", concept_names[field], Py_TYPE(given)->tp_name);
}

/* The fields `given` (borrowed, in order) made as concept_field makes them, into a new concept. */
static PyObject *concept_made(PyObject *given[CONCEPT_FIELDS]) {
    PyObject *fields[CONCEPT_FIELDS];
    for (int field = 0; field < CONCEPT_FIELDS; field++) {
        if ((fields[field] = concept_field(field, given[field])) == NULL) {
            while (field-- > 0) Py_DECREF(fields[field]);
            return NULL;
        }
    }
    return concept_of(fields);
}

static PyObject *concept_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)type;
    static char *keywords[] = {"id", "name", "value", "app_id", NULL};
    PyObject *given[CONCEPT_FIELDS];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:Concept", keywords, &given[0], &given[1], &given[2], &given[3]))
        return NULL;
    return concept_made(given);
}

static void concept_dealloc(PyObject *self) {
    for (int field = 0; field < CONCEPT_FIELDS; field++) Py_XDECREF(((concept_object *)self)->fields[field]);
    PyObject_Free(self);
}

static PyObject *concept_tuple(PyObject *self) {
    PyObject **fields = ((concept_object *)self)->fields;
    return PyTuple_Pack(CONCEPT_FIELDS, fields[0], fields[1], fields[2], fields[3]);
}

static Py_ssize_t concept_length(PyObject *self) {
    (void)self;
    return CONCEPT_FIELDS;
}

static PyObject *concept_item(PyObject *self, Py_ssize_t index) {
    if (index < 0 || index >= CONCEPT_FIELDS) {
        PyErr_SetString(PyExc_IndexError, "Concept index out of range");
        return NULL;
    }
    PyObject *field = ((concept_object *)self)->fields[index];
    Py_INCREF(field);
    return field;
}

/* concept[index] and concept[slice] (a tuple), as a tuple's. */
static PyObject *concept_subscript(PyObject *self, PyObject *key) {
    if (PyIndex_Check(key)) {
        Py_ssize_t index = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (index == -1 && PyErr_Occurred()) return NULL;
        return concept_item(self, index < 0 ? index + CONCEPT_FIELDS : index);
    }
    PyObject *tuple = concept_tuple(self);
    if (tuple == NULL) return NULL;
    PyObject *item = PyObject_GetItem(tuple, key);
    Py_DECREF(tuple);
    return item;
}

static int concept_contains(PyObject *self, PyObject *item) {
    for (int field = 0; field < CONCEPT_FIELDS; field++) {
        int same = PyObject_RichCompareBool(((concept_object *)self)->fields[field], item, Py_EQ);
        if (same != 0) return same;
    }
    return 0;
}

static PyObject *concept_iter(PyObject *self) {
    PyObject *tuple = concept_tuple(self);
    if (tuple == NULL) return NULL;
    PyObject *iterator = PyObject_GetIter(tuple);
    Py_DECREF(tuple);
    return iterator;
}

/* Compared as the tuple of its fields, with another concept or a tuple. */
static PyObject *concept_compare(PyObject *self, PyObject *other, int op) {
    if (Py_TYPE(other) != &concept_type && !PyTuple_Check(other)) Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = concept_tuple(self);
    PyObject *theirs = Py_TYPE(other) == &concept_type ? concept_tuple(other) : (Py_INCREF(other), other);
    PyObject *result = mine != NULL && theirs != NULL ? PyObject_RichCompare(mine, theirs, op) : NULL;
    Py_XDECREF(mine);
    Py_XDECREF(theirs);
    return result;
}

static Py_hash_t concept_hash(PyObject *self) {
    PyObject *tuple = concept_tuple(self);
    if (tuple == NULL) return -1;
    Py_hash_t hash = PyObject_Hash(tuple);
    Py_DECREF(tuple);
    return hash;
}

static PyObject *concept_repr(PyObject *self) {
    PyObject **fields = ((concept_object *)self)->fields;
    return PyUnicode_FromFormat("Concept(id=%R, name=%R, value=%R, app_id=%R)", fields[0], fields[1], fields[2], fields[3]);
}

static PyObject *concept_reduce(PyObject *self, PyObject *unused) {
    (void)unused;
    PyObject **fields = ((concept_object *)self)->fields;
    return Py_BuildValue("(O(OOOO))", (PyObject *)&concept_type, fields[0], fields[1], fields[2], fields[3]);
}

static PyObject *concept_asdict(PyObject *self, PyObject *unused) {
    (void)unused;
    PyObject *dict = PyDict_New();
    for (int field = 0; dict != NULL && field < CONCEPT_FIELDS; field++)
        if (PyDict_SetItemString(dict, concept_names[field], ((concept_object *)self)->fields[field]) != 0) Py_CLEAR(dict);
    return dict;
}

/* _replace(**changes): a concept with these fields changed, as a named tuple's. */
static PyObject *concept_replace(PyObject *self, PyObject *args, PyObject *kwargs) {
    if (PyTuple_GET_SIZE(args) != 0) {
        PyErr_SetString(PyExc_TypeError, "_replace takes keyword arguments only");
        return NULL;
    }
    PyObject *given[CONCEPT_FIELDS];
    Py_ssize_t used = 0;
    for (int field = 0; field < CONCEPT_FIELDS; field++) {
        PyObject *change = kwargs != NULL ? PyDict_GetItemString(kwargs, concept_names[field]) : NULL;
        used += change != NULL;
        given[field] = change != NULL ? change : ((concept_object *)self)->fields[field];
    }
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != used) {
        PyErr_Format(PyExc_ValueError, "Got unexpected field names: %R", kwargs);
        return NULL;
    }
    return concept_made(given);
}

#define CONCEPT_MEMBER(name, field) {name, T_OBJECT_EX, offsetof(concept_object, fields) + (field) * sizeof(PyObject *), READONLY, NULL}
static PyMemberDef concept_members[] = {CONCEPT_MEMBER("id", CONCEPT_ID), CONCEPT_MEMBER("name", CONCEPT_NAME),
                                        CONCEPT_MEMBER("value", CONCEPT_VALUE), CONCEPT_MEMBER("app_id", CONCEPT_APP_ID),
                                        {NULL, 0, 0, 0, NULL}};

static PyMethodDef concept_methods[] = {
    {"__reduce__", concept_reduce, METH_NOARGS, NULL},
    {"_asdict", concept_asdict, METH_NOARGS, "The fields as a dict."},
    {"_replace", (PyCFunction)(void (*)(void))concept_replace, METH_VARARGS | METH_KEYWORDS,
     "A concept with the fields given changed."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods concept_sequence = {.sq_length = concept_length, .sq_item = concept_item, .sq_contains = concept_contains};
static PyMappingMethods concept_mapping = {.mp_length = concept_length, .mp_subscript = concept_subscript};

static PyTypeObject concept_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libclarifai.Concept",
    .tp_basicsize = sizeof(concept_object),
    .tp_dealloc = concept_dealloc,
    .tp_repr = concept_repr,
    .tp_as_sequence = &concept_sequence,
    .tp_as_mapping = &concept_mapping,
    .tp_hash = concept_hash,
    .tp_getattro = PyObject_GenericGetAttr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Concept(id, name, value, app_id): a concept of an output or region.",
    .tp_richcompare = concept_compare,
    .tp_iter = concept_iter,
    .tp_methods = concept_methods,
    .tp_members = concept_members,
    .tp_new = concept_new,
};

/* concepts(text, length, counts, outputs) -> list of lists of Concept
 * text, counts: addresses of clarifai_response_outputs_text's block and concept counts. */
static PyObject *concepts(PyObject *module, PyObject *args) {
    module_state *state = PyModule_GetState(module);
    unsigned long long text_address, counts_address;
    Py_ssize_t length, outputs;
    if (!PyArg_ParseTuple(args, "KnKn", &text_address, &length, &counts_address, &outputs)) return NULL;
    if (length < 0 || outputs < 0 || (length > 0 && text_address == 0) || (outputs > 0 && counts_address == 0)) {
        PyErr_SetString(PyExc_ValueError, "no concepts text or counts at the addresses given");
        return NULL;
    }
    const char *cursor = (const char *)(uintptr_t)text_address, *end = cursor + length;
    const size_t *counts = (const size_t *)(uintptr_t)counts_address;
    PyObject *result = PyList_New(outputs);
    if (result == NULL) return NULL;
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
            PyObject *fields[CONCEPT_FIELDS];
            for (int field = 0; field < CONCEPT_FIELDS; field++) {
                Py_ssize_t field_length;
                const char *text = next_field(&cursor, end, &field_length);
                /* The library writes a value as the shortest decimal that reads back as the float
                   ("0.87", "nan", "inf", "-inf"): read as float() reads it. */
                fields[field] = text == NULL ? NULL
                                : field == CONCEPT_VALUE ? value_field(text, field_length)
                                : text_field(state, text, field_length);
                if (fields[field] == NULL) {
                    while (field-- > 0) Py_DECREF(fields[field]);
                    goto fail;
                }
            }
            PyObject *concept = concept_of(fields);
            if (concept == NULL) goto fail;
            PyList_SET_ITEM(list, index, concept);
        }
    }
    return result;
fail:
    Py_DECREF(result);  /* lists and concepts made so far, partly filled lists included */
    return NULL;
}

/* clarifai_input of clarifai.h (the binding passes its ctypes size, checked against this one). */
typedef struct {
    int kind;
    const char *url;
    const void *data;
    size_t data_len;
    const char *text;
    const char *id;
} input_view;

enum { KIND_IMAGE = 0, KIND_TEXT = 1, KIND_LAST = 3 };

/* Reads attribute `name` of `item` into *view as the UTF-8 of a str (NULL for None), the str
 * put in `held` (its UTF-8 lives as long as it does): 1 done, 0 when the value is anything else
 * or holds a NUL byte (the binding's own way handles it), -1 on error. */
static int string_attribute(PyObject *item, PyObject *name, const char **view, PyObject *held) {
    PyObject *value = PyObject_GetAttr(item, name);
    if (value == NULL) return -1;
    int done = 0;
    if (value == Py_None) {
        *view = NULL;
        done = 1;
    } else if (PyUnicode_CheckExact(value)) {
        Py_ssize_t length;
        const char *text = PyUnicode_AsUTF8AndSize(value, &length);
        if (text == NULL) PyErr_Clear();  /* (a lone surrogate: the binding's way raises the error) */
        else if (memchr(text, '\0', (size_t)length) == NULL) {
            *view = text;
            done = PyList_Append(held, value) == 0 ? 1 : -1;
        }
    }
    Py_DECREF(value);
    return done;
}

/* input_array(items, struct_size) -> (bytearray of clarifai_input, list of what it points into),
 * or None
 * items: a list of Input. None when the binding must make the array itself: a kind other than
 * None or a number of clarifai_input_kind, text that is not a str or holds a NUL byte, data that
 * is not bytes, or a struct size other than this file's. The strings and bytes the array points
 * into are held by the list (an item's attribute could be given another value meanwhile). */
static PyObject *input_array(PyObject *module, PyObject *args) {
    (void)module;
    static PyObject *names[5];
    static const char *const spelled[5] = {"kind", "url", "data", "text", "id"};
    PyObject *items;
    Py_ssize_t struct_size;
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &items, &struct_size)) return NULL;
    if (struct_size != (Py_ssize_t)sizeof(input_view)) Py_RETURN_NONE;
    for (int index = 0; index < 5; index++)
        if (names[index] == NULL && (names[index] = PyUnicode_InternFromString(spelled[index])) == NULL) return NULL;
    Py_ssize_t count = PyList_GET_SIZE(items);
    PyObject *packed = PyByteArray_FromStringAndSize(NULL, (count > 0 ? count : 1) * (Py_ssize_t)sizeof(input_view));
    if (packed == NULL) return NULL;
    PyObject *held = PyList_New(0);
    if (held == NULL) {
        Py_DECREF(packed);
        return NULL;
    }
    input_view *views = (input_view *)PyByteArray_AS_STRING(packed);
    memset(views, 0, (size_t)(count > 0 ? count : 1) * sizeof(input_view));
    for (Py_ssize_t index = 0; index < count; index++) {
        PyObject *item = PyList_GET_ITEM(items, index);
        input_view *view = &views[index];
        int done = string_attribute(item, names[1], &view->url, held);
        if (done == 1) done = string_attribute(item, names[3], &view->text, held);
        if (done == 1) done = string_attribute(item, names[4], &view->id, held);
        if (done == 1) {
            PyObject *kind = PyObject_GetAttr(item, names[0]);
            if (kind == NULL) {
                done = -1;
            } else if (kind == Py_None) {
                view->kind = view->text != NULL ? KIND_TEXT : KIND_IMAGE;
            } else {
                long number = PyLong_Check(kind) ? PyLong_AsLong(kind) : -1;
                if (number == -1 && PyErr_Occurred()) PyErr_Clear();
                if (number >= 0 && number <= KIND_LAST) view->kind = (int)number;
                else done = 0;
            }
            Py_XDECREF(kind);
        }
        if (done == 1) {
            PyObject *data = PyObject_GetAttr(item, names[2]);
            if (data == NULL) {
                done = -1;
            } else if (PyBytes_CheckExact(data)) {
                view->data = PyBytes_AS_STRING(data);
                view->data_len = (size_t)PyBytes_GET_SIZE(data);
                if (PyList_Append(held, data) != 0) done = -1;
            } else if (data != Py_None) {
                done = 0;
            }
            Py_XDECREF(data);
        }
        if (done != 1) {
            Py_DECREF(packed);
            Py_DECREF(held);
            if (done == 0) Py_RETURN_NONE;
            return NULL;
        }
    }
    PyObject *made = PyTuple_Pack(2, packed, held);
    Py_DECREF(packed);
    Py_DECREF(held);
    return made;
}

static PyMethodDef methods[] = {
    {"input_array", input_array, METH_VARARGS,
     "input_array(items, struct_size): the clarifai_input array of a list of Input, as a bytearray, "
     "and a list of the strings and bytes it points into; None where the binding makes it itself."},
    {"concepts", concepts, METH_VARARGS,
     "concepts(text, length, counts, outputs): the Concepts of each output, from the addresses of "
     "clarifai_response_outputs_text's block and counts."},
    {NULL, NULL, 0, NULL},
};

/* The kept strings go with the module (at interpreter shutdown, or a re-initialized interpreter's
   new module starts empty). */
static int module_clear(PyObject *module) {
    module_state *state = PyModule_GetState(module);
    if (state != NULL)
        for (int set = 0; set < TEXT_SETS; set++)
            for (int way = 0; way < 2; way++) Py_CLEAR(state->slots[set][way].text);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

/* Concept made ready once, by the first interpreter that imports the module (a static type, shared:
   the module is refused where interpreters do not share objects, and the binding makes its
   concepts in Python there), with its named tuple's class attributes, and added to the module. */
static int module_exec(PyObject *module) {
    if (concept_type.tp_dict == NULL || PyDict_GetItemString(concept_type.tp_dict, "_fields") == NULL) {
        if (PyType_Ready(&concept_type) != 0) return -1;
        PyObject *names = Py_BuildValue("(ssss)", concept_names[0], concept_names[1], concept_names[2], concept_names[3]);
        int failed = names == NULL || PyDict_SetItemString(concept_type.tp_dict, "_fields", names) != 0 ||
                     PyDict_SetItemString(concept_type.tp_dict, "__match_args__", names) != 0;
        Py_XDECREF(names);
        if (failed) return -1;
        PyType_Modified(&concept_type);
    }
    Py_INCREF(&concept_type);
    if (PyModule_AddObject(module, "Concept", (PyObject *)&concept_type) == 0) return 0;
    Py_DECREF(&concept_type);
    return -1;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "libclarifai._speedups", NULL, sizeof(module_state), methods,
                                    module_slots, NULL, module_clear, module_free};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModuleDef_Init(&module); }
