module github.com/amqplib-go/amqp

go 1.26
