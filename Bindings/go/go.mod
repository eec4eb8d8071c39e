module clarifai

go 1.19
